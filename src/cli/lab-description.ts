/**
 * The one-line description of `carpool lab`, shared by the real command (lab-cmd.ts) and the
 * stub commands.ts registers for `carpool --help`, so help does not load the lab.
 */
export const LAB_DESCRIPTION = 'a cluster in network namespaces on this machine: build it, break it, watch the VIP move (root)';
