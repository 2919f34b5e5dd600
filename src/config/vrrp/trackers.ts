/**
 * vrrp_script and track_file definitions, the references instances and sync groups make to them
 * (with the tracker's default weight), and sync group membership and the sync groups themselves.
 */
import type { SyncGroup, TrackFile, TrackProcess, TrackRef, VrrpScript } from '../model.js';
import { ms, suggestName, type Diag } from './check.js';
import { notifyHooks } from './notify.js';
import type { At, SyncGroupSpec, Terms, TrackFileSpec, TrackProcessSpec, TrackRefSpec, VrrpScriptSpec } from './spec.js';

/** Records the name of a `block` definition; false, with an error, when the name was defined before. */
function firstDefinition(diag: Diag, names: Set<string>, name: At<string>, block: string, what: string): boolean {
  if (names.has(name.value)) {
    diag.err(name.at, 'DUPLICATE_NAME', `${block} '${name.value}' is defined twice`, `a unique name per ${what}`);
    return false;
  }
  names.add(name.value);
  return true;
}

/** The defined trackers, by name; a name is in `*Names` even when its definition had errors. */
export class Trackers {
  readonly scripts = new Map<string, VrrpScript>();
  readonly scriptNames = new Set<string>();
  readonly files = new Map<string, TrackFile>();
  readonly fileNames = new Set<string>();
  readonly processes = new Map<string, TrackProcess>();
  readonly processNames = new Set<string>();

  constructor(private readonly diag: Diag) {}

  addScripts(specs: readonly VrrpScriptSpec[]): void {
    const { diag } = this;
    for (const s of specs) {
      if (!firstDefinition(diag, this.scriptNames, s.name, 'vrrp_script', 'script')) continue;
      const ok = [diag.inRange(s.interval, `interval of vrrp_script '${s.name.value}'`, 0.001, 86400, false),
        diag.inRange(s.timeout, `timeout of vrrp_script '${s.name.value}'`, 0.001, 86400, false),
        diag.inRange(s.weight, `weight of vrrp_script '${s.name.value}'`, -253, 253),
        diag.inRange(s.rise, `rise of vrrp_script '${s.name.value}'`, 1, 1_000_000),
        diag.inRange(s.fall, `fall of vrrp_script '${s.name.value}'`, 1, 1_000_000)].every(Boolean);
      if (!s.script) {
        if (!s.scriptInvalid) diag.err(s.name.at, 'MISSING_KEY', `vrrp_script '${s.name.value}' has no script`, 'script "/path/to/check args"');
        continue;
      }
      if (!ok) continue;
      const intervalMs = ms(s.interval?.value ?? 1);
      this.scripts.set(s.name.value, {
        name: s.name.value, hook: s.script.value, intervalMs, timeoutMs: s.timeout ? ms(s.timeout.value) : intervalMs,
        weight: s.weight?.value ?? 0, reverse: s.reverse?.value ?? false, rise: s.rise?.value ?? 1, fall: s.fall?.value ?? 1,
        initFail: s.initFail?.value ?? false,
      });
    }
  }

  addFiles(specs: readonly TrackFileSpec[]): void {
    const { diag } = this;
    for (const f of specs) {
      if (!firstDefinition(diag, this.fileNames, f.name, 'track_file', 'track file')) continue;
      const ok = diag.inRange(f.weight, `weight of track_file '${f.name.value}'`, -254, 254);
      if (!f.path) {
        diag.err(f.name.at, 'MISSING_KEY', `track_file '${f.name.value}' has no file`, 'file "/path/to/file"');
        continue;
      }
      if (!f.path.value.startsWith('/')) {
        diag.err(f.path.at, 'INVALID_VALUE', `file of track_file '${f.name.value}': '${f.path.value}' is not an absolute path`, 'an absolute path');
        continue;
      }
      if (!ok) continue;
      this.files.set(f.name.value, {
        name: f.name.value, path: f.path.value, weight: f.weight?.value ?? 1, reverse: f.reverse?.value ?? false,
        ...(f.initValue ? { initValue: f.initValue.value } : {}), initOverwrite: f.initOverwrite?.value ?? false,
      });
    }
  }

  addProcesses(specs: readonly TrackProcessSpec[]): void {
    const { diag } = this;
    for (const p of specs) {
      if (!firstDefinition(diag, this.processNames, p.name, 'vrrp_track_process', 'track process')) continue;
      const what = `of vrrp_track_process '${p.name.value}'`;
      const ok = [diag.inRange(p.weight, `weight ${what}`, -254, 254), diag.inRange(p.quorum, `quorum ${what}`, 0, 65535),
        diag.inRange(p.quorumMax, `quorum_max ${what}`, 0, 65535), diag.inRange(p.forkDelay, `fork_delay ${what}`, 0, 3600, false),
        diag.inRange(p.terminateDelay, `terminate_delay ${what}`, 0, 3600, false)].every(Boolean);
      const [name, ...params] = p.process?.value ?? [];
      if (!p.process || !name) {
        diag.err(p.name.at, 'MISSING_KEY', `vrrp_track_process '${p.name.value}' has no process`, 'process NAME [PARAM ...]');
        continue;
      }
      const quorum = p.quorum?.value ?? 1;
      if (p.quorumMax && p.quorumMax.value < quorum) {
        diag.err(p.quorumMax.at, 'OUT_OF_RANGE', `quorum_max ${what} is below its quorum (${quorum})`, `quorum_max ${quorum} or more`);
        continue;
      }
      if (!ok) continue;
      // keepalived: parameters are matched when given, or when param_match says so (then none may be there).
      const matchParams = params.length > 0 || p.paramMatch !== undefined;
      this.processes.set(p.name.value, {
        name: p.name.value, process: name, ...(matchParams ? { params } : {}), paramMatch: p.paramMatch?.value ?? 'exact',
        fullCommand: p.fullCommand?.value ?? false, weight: p.weight?.value ?? 1, reverse: p.reverse?.value ?? false, quorum,
        ...(p.quorumMax ? { quorumMax: p.quorumMax.value } : {}),
        forkDelayMs: ms(p.forkDelay?.value ?? 0), terminateDelayMs: ms(p.terminateDelay?.value ?? 0),
      });
    }
  }

  /** References of `owner` to trackers of one kind; weight and reverse default to the tracker's own. */
  refs(refs: readonly At<TrackRefSpec>[], kind: 'interface' | 'script' | 'file' | 'process', owner: string): TrackRef[] {
    const { diag } = this;
    const out: TrackRef[] = [];
    const seen = new Set<string>();
    for (const r of refs) {
      const { name } = r.value;
      if (seen.has(name)) {
        diag.warn(r.at, 'DUPLICATE_NAME', `${owner} tracks ${kind} '${name}' twice; the first one counts`, 'each tracker once');
        continue;
      }
      seen.add(name);
      let weight = r.value.weight;
      let reverse = r.value.reverse;
      const limit = kind === 'file' || kind === 'process' ? 254 : 253;
      if (weight !== undefined && (!Number.isInteger(weight) || Math.abs(weight) > limit)) {
        diag.err(r.at, 'OUT_OF_RANGE', `weight of ${kind} '${name}' in ${owner}: got ${weight}`, `an integer -${limit}..${limit}`);
        continue;
      }
      if (kind !== 'interface') {
        const [defined, names, block]: [ReadonlyMap<string, { weight: number; reverse: boolean }>, Set<string>, string] = kind === 'script'
          ? [this.scripts, this.scriptNames, 'vrrp_script'] : kind === 'file' ? [this.files, this.fileNames, 'track_file']
            : [this.processes, this.processNames, 'vrrp_track_process'];
        const t = defined.get(name);
        if (!t) {
          if (!names.has(name)) {
            diag.err(r.at, 'UNDEFINED_REFERENCE', `${owner} tracks ${kind} '${name}', which is not defined`,
              `a ${block} defined in the configuration${suggestName(name, [...names])}`);
          }
          continue;
        }
        weight ??= t.weight;
        reverse ??= t.reverse;
      }
      out.push({ name, weight: weight ?? 0, reverse: reverse ?? false });
    }
    return out;
  }
}

/** Which sync group each instance is in (checked: defined groups, existing instances, one group each). */
export function syncGroupMembership(diag: Diag, groups: readonly SyncGroupSpec[], instanceNames: ReadonlySet<string>,
  terms: Terms): Map<string, SyncGroupSpec> {
  const memberOf = new Map<string, SyncGroupSpec>();
  const groupNames = new Set<string>();
  for (const g of groups) {
    if (!firstDefinition(diag, groupNames, g.name, 'vrrp_sync_group', 'sync group')) continue;
    if (g.members.length === 0) diag.err(g.name.at, 'MISSING_KEY', `vrrp_sync_group '${g.name.value}' has no members`, `${terms.members} { INSTANCE ... }`);
    for (const m of g.members) {
      if (!instanceNames.has(m.value)) {
        diag.err(m.at, 'UNDEFINED_REFERENCE', `vrrp_sync_group '${g.name.value}' lists '${m.value}', which is not a vrrp_instance`,
          `the name of a vrrp_instance${suggestName(m.value, [...instanceNames])}`);
        continue;
      }
      const prev = memberOf.get(m.value);
      if (prev) {
        diag.err(m.at, 'SYNC_GROUP', `'${m.value}' is already a member of vrrp_sync_group '${prev.name.value}'`, 'each instance in one sync group at most');
        continue;
      }
      memberOf.set(m.value, g);
    }
    if (g.members.length === 1) {
      diag.warn(g.name.at, 'SYNC_GROUP', `vrrp_sync_group '${g.name.value}' has a single member; it synchronises nothing`, 'two or more instances');
    }
  }
  return memberOf;
}

/** The sync groups of the model (the first definition of each name; members that exist, once). */
export function buildSyncGroups(groups: readonly SyncGroupSpec[], instanceNames: ReadonlySet<string>, trackers: Trackers): SyncGroup[] {
  const syncGroups: SyncGroup[] = [];
  for (const g of groups) {
    if (syncGroups.some((x) => x.name === g.name.value)) continue;
    const owner = `vrrp_sync_group '${g.name.value}'`;
    syncGroups.push({
      name: g.name.value,
      members: g.members.map((m) => m.value).filter((m, i, all) => instanceNames.has(m) && all.indexOf(m) === i),
      notify: notifyHooks(g.notify),
      trackInterfaces: trackers.refs(g.trackInterfaces, 'interface', owner),
      trackScripts: trackers.refs(g.trackScripts, 'script', owner),
      trackFiles: trackers.refs(g.trackFiles, 'file', owner),
      ...(g.trackProcesses?.length ? { trackProcesses: trackers.refs(g.trackProcesses, 'process', owner) } : {}),
    });
  }
  return syncGroups;
}
