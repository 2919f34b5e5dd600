/**
 * CARP and VRRPv2 adverts with the same id on one interface cannot be told apart (their first
 * byte is the same): such a pair is refused before anything starts, by `carpool run` and
 * `carpool check` (cli/preflight.ts) and by the daemon (bucket elections of `sharing:` too).
 */
import type { Instance } from '../config/model.js';

/** An election on the wire: CARP vhid or VRRP VRID (`v`: VRRP version; CARP counts as 2) on a device. */
export interface WireId {
  readonly name: string;
  readonly dev: string;
  readonly id: number;
  readonly v: number;
}

export interface IdCollision {
  readonly carp: WireId;
  readonly vrrp: WireId;
  readonly message: string;
  readonly hint: string;
}

/** Every CARP election with a VRRPv2 one of the same id on the same device. */
export function idCollisions(carp: readonly WireId[], vrrp: readonly WireId[]): IdCollision[] {
  const out: IdCollision[] = [];
  for (const c of carp) {
    const clash = vrrp.find((v) => v.dev === c.dev && v.id === c.id && v.v === 2);
    if (clash) {
      out.push({
        carp: c, vrrp: clash,
        message: `${c.name} (CARP vhid ${c.id}) and ${clash.name} (VRRPv2 VRID ${c.id}) share ${c.dev}: their packets look alike`,
        hint: 'give one of them another vhid/virtual_router_id',
      });
    }
  }
  return out;
}

/** Alias interfaces (`eth0:carp0`) live on their parent device. */
export function deviceOf(ifname: string): string {
  const colon = ifname.indexOf(':');
  return colon > 0 ? ifname.slice(0, colon) : ifname;
}

/** The collisions among `all` (CARP and VRRP instances, alias labels counted on their device). */
export function instanceCollisions(all: readonly Instance[]): IdCollision[] {
  const ids = all.map((i) => ({ name: i.name, dev: deviceOf(i.interface), id: i.kind === 'carp' ? i.vhid : i.vrid, v: i.kind === 'carp' ? 2 : i.version }));
  return idCollisions(ids.filter((_, k) => all[k]!.kind === 'carp'), ids.filter((_, k) => all[k]!.kind === 'vrrp'));
}
