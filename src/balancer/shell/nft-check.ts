/**
 * `carpool check` for configurations with virtual servers: the plane a daemon would put in
 * force at start, rendered and handed to `nft -c -f -` (parsed and checked by the kernel,
 * nothing changes), so a kernel or nft that cannot run it is reported before `carpool run`.
 */
import type { Plane } from '../core/nft.js';
import { PlaneError, renderPlane } from '../core/nft.js';
import { CarpoolError } from '../../lib/errors.js';
import { nftRunner, type NftRunner } from './nft-applier.js';

export type NftCheck =
  | { readonly kind: 'ok'; readonly version: string }
  | { readonly kind: 'skipped'; readonly why: string }
  | { readonly kind: 'failed'; readonly error: CarpoolError };

function lines(s: string): string {
  return s.trim().split('\n').slice(0, 4).join(' | ');
}

export async function checkPlaneWithNft(plane: Plane, nft: NftRunner = nftRunner()): Promise<NftCheck> {
  let text: string;
  try {
    text = renderPlane(plane);
  } catch (err) {
    if (err instanceof PlaneError) return { kind: 'failed', error: new CarpoolError(`PLANE_${err.code}`, err.message, err.hint ?? 'change these virtual servers') };
    throw err;
  }
  let version;
  try {
    version = await nft(['--version']);
  } catch {
    return { kind: 'skipped', why: 'nft is not installed (apt install nftables); the daemon needs it' };
  }
  if (version.code !== 0) return { kind: 'skipped', why: `nft --version failed: ${lines(version.stderr)}` };
  const r = await nft(['-c', '-f', '-'], text);
  if (r.code === 0) return { kind: 'ok', version: version.stdout.trim() };
  if (/Operation not permitted|Permission denied/i.test(r.stderr)) return { kind: 'skipped', why: 'nft -c needs root (CAP_NET_ADMIN): run carpool check as root' };
  return {
    kind: 'failed',
    error: new CarpoolError('NFT_UNSUPPORTED', `this kernel or nft cannot run the load balancer's ruleset: ${lines(r.stderr)}`,
      'the balancer needs nftables NAT (nf_nat, nft_numgen, nft_hash, nft_ct; DR/TUN: netdev ingress and fwd): check the kernel modules, or run with --vrrp-only'),
  };
}
