/**
 * keepalived.conf trackers: `vrrp_script NAME { ... }`, `track_file NAME { ... }` (alias
 * vrrp_track_file) and `vrrp_track_process NAME { ... }`.
 */
import type { TrackFileSpec, TrackProcessSpec, VrrpScriptSpec } from '../vrrp/spec.js';
import { splitScriptWords } from './syntax.js';
import type { Ctx, Handler } from './checker.js';
import { readWeight } from './values.js';

interface ScriptCtx extends Ctx { readonly s: VrrpScriptSpec }
export const SCRIPT_HANDLERS: Readonly<Record<string, Handler<ScriptCtx>>> = {
  script: (st, { c, s }) => {
    const h = c.script(st, `vrrp_script '${s.name.value}'`, false);
    if (h) s.script = h; else s.scriptInvalid = true;
  },
  interval: (st, { c, s }) => { const v = c.one(st, 'interval SECONDS'); const n = v && c.seconds(v, 'interval', 0.001, 86400); if (n) s.interval = n; },
  timeout: (st, { c, s }) => { const v = c.one(st, 'timeout SECONDS'); const n = v && c.seconds(v, 'timeout', 0.001, 86400); if (n) s.timeout = n; },
  weight: (st, { c, s }) => { const w = readWeight(c, st, -253, 253); if (w.weight) s.weight = w.weight; if (w.reverse) s.reverse = w.reverse; },
  rise: (st, { c, s }) => { const v = c.one(st, 'rise N'); const n = v && c.int(v, 'rise', 1, 1_000_000); if (n) s.rise = n; },
  fall: (st, { c, s }) => { const v = c.one(st, 'fall N'); const n = v && c.int(v, 'fall', 1, 1_000_000); if (n) s.fall = n; },
  init_fail: (st, { c, s }) => { c.noArgs(st); s.initFail = { value: true, at: st.loc }; },
  user: (st, { c, s }) => {
    c.noBlock(st);
    if (st.args.length < 1 || st.args.length > 2) c.error(st.loc, st.args.length ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'user takes a user and an optional group', 'user USER [GROUP]');
    c.warn(st.loc, 'NOT_USED', `user in vrrp_script '${s.name.value}' is accepted, but carpool runs scripts as root (it does not switch users)`, 'a script that is safe to run as root');
  },
};

interface TrackFileCtx extends Ctx { readonly s: TrackFileSpec }
export const TRACK_FILE_HANDLERS: Readonly<Record<string, Handler<TrackFileCtx>>> = {
  file: (st, { c, s }) => { const v = c.one(st, 'file "/path"'); if (v) s.path = { value: v.text, at: v.loc }; },
  weight: (st, { c, s }) => { const w = readWeight(c, st, -254, 254); if (w.weight) s.weight = w.weight; if (w.reverse) s.reverse = w.reverse; },
  init_file: (st, { c, s }) => {
    c.noBlock(st);
    let rest = st.args;
    if (rest[0] && rest[0].text !== 'overwrite') {
      const n = c.int(rest[0], 'init_file', -2147483647, 2147483647);
      if (n) s.initValue = n;
      rest = rest.slice(1);
    } else {
      s.initValue = { value: 0, at: st.loc };
    }
    if (rest[0]?.text === 'overwrite') { s.initOverwrite = { value: true, at: rest[0].loc }; rest = rest.slice(1); }
    if (rest[0]) c.error(rest[0].loc, 'EXTRA_ARGUMENT', `init_file: unexpected '${rest[0].text}'`, 'init_file [VALUE] [overwrite]');
  },
};

interface TrackProcessCtx extends Ctx { readonly s: TrackProcessSpec }
const delay = (key: 'forkDelay' | 'terminateDelay' | 'both'): Handler<TrackProcessCtx> => (st, { c, s }) => {
  const v = c.one(st, `${st.keyword} SECONDS`);
  const n = v && c.seconds(v, st.keyword, 0, 3600);
  if (!n) return;
  if (key !== 'terminateDelay') s.forkDelay = n;
  if (key !== 'forkDelay') s.terminateDelay = n;
};
export const TRACK_PROCESS_HANDLERS: Readonly<Record<string, Handler<TrackProcessCtx>>> = {
  process: (st, { c, s }) => {
    c.noBlock(st);
    // keepalived: a quoted string is one element (`process "/tmp/a b" param1 "param 2"`).
    const words = splitScriptWords(st.rest);
    if (!words || words.length === 0 || words[0] === '') {
      c.error(st.loc, 'MISSING_ARGUMENT', `process of vrrp_track_process '${s.name.value}' needs a process name`, 'process NAME [PARAM ...]');
      return;
    }
    s.process = { value: words, at: st.args[0]!.loc };
  },
  param_match: (st, { c, s }) => {
    const v = c.one(st, 'param_match initial|partial');
    if (!v) return;
    if (v.text !== 'initial' && v.text !== 'partial') {
      c.error(v.loc, 'INVALID_VALUE', `param_match: '${v.text}' is not a kind of match`, 'initial or partial');
      return;
    }
    s.paramMatch = { value: v.text, at: v.loc };
  },
  weight: (st, { c, s }) => { const w = readWeight(c, st, -254, 254); if (w.weight) s.weight = w.weight; if (w.reverse) s.reverse = w.reverse; },
  quorum: (st, { c, s }) => { const v = c.one(st, 'quorum N'); const n = v && c.int(v, 'quorum', 0, 65535); if (n) s.quorum = n; },
  quorum_max: (st, { c, s }) => { const v = c.one(st, 'quorum_max N'); const n = v && c.int(v, 'quorum_max', 0, 65535); if (n) s.quorumMax = n; },
  fork_delay: delay('forkDelay'),
  terminate_delay: delay('terminateDelay'),
  delay: delay('both'),
  full_command: (st, { c, s }) => { c.noArgs(st); s.fullCommand = { value: true, at: st.loc }; },
};
