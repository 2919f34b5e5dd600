/** keepalived.conf `vrrp_sync_group NAME { ... }`. */
import type { NotifySpec, SyncGroupSpec } from '../vrrp/spec.js';
import { MAIL, unsupported, type Ctx, type Handler, type Policy } from './checker.js';
import { readTrackRefs } from './values.js';

export const SYNC_GROUP_POLICIES: Readonly<Record<string, Policy>> = {
  smtp_alert: MAIL,
  track_bfd: unsupported('no BFD'),
  notify_priority_changes: unsupported('notification FIFOs are not written'),
};

interface GroupCtx extends Ctx { readonly g: SyncGroupSpec }
function groupNotify(key: keyof NotifySpec): Handler<GroupCtx> {
  return (st, { c, g }) => { const h = c.script(st, `vrrp_sync_group '${g.name.value}'`, true); if (h) g.notify[key] = h; };
}
export const GROUP_HANDLERS: Readonly<Record<string, Handler<GroupCtx>>> = {
  group: (st, { c, g }) => {
    for (const e of c.block(st, 'group { VI_1 VI_2 }')) {
      c.noBlock(e);
      for (const w of [{ text: e.keyword, loc: e.loc }, ...e.args]) g.members.push({ value: w.text, at: w.loc });
    }
  },
  notify_master: groupNotify('master'),
  notify_backup: groupNotify('backup'),
  notify_fault: groupNotify('fault'),
  notify_stop: groupNotify('stop'),
  notify: groupNotify('generic'),
  track_interface: (st, { c, g }) => { g.trackInterfaces.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'interface')); },
  track_script: (st, { c, g }) => { g.trackScripts.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'script')); },
  track_file: (st, { c, g }) => { g.trackFiles.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'file')); },
  track_process: (st, { c, g }) => { (g.trackProcesses ??= []).push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'process')); },
  sync_group_tracking_weight: (st, { c, g }) => { c.noArgs(st); g.trackingWeight = { value: true, at: st.loc }; },
  global_tracking: (st, { c, g }) => {
    c.noArgs(st);
    c.warn(st.loc, 'NOT_USED', 'global_tracking is deprecated; read as sync_group_tracking_weight (as keepalived does)', 'sync_group_tracking_weight');
    g.trackingWeight = { value: true, at: st.loc };
  },
};
