/**
 * The validated configuration model. Every front end (the `ucarp` command line, carpool
 * YAML, keepalived.conf) produces this; the daemon only ever sees this shape, so a value
 * here is already checked and defaulted. Plain readonly data, no behaviour.
 */
import type { Family } from '../protocol/inet.js';

/** A virtual address the daemon adds while master (native mode) and advertises. */
export interface VirtualAddress {
  readonly family: Family;
  /** Canonical text form. */
  readonly address: string;
  readonly prefix: number;
  /** Interface the address goes on; defaults to the instance's interface. */
  readonly dev?: string;
  /** Linux address label (`eth0:0`), as `ip addr add ... label` / ifconfig aliases. */
  readonly label?: string;
  readonly broadcast?: string;
}

/**
 * A command run on a state change. argv[0] is executed directly (no shell) unless
 * `shell` is set, in which case the whole string is handed to `/bin/sh -c`.
 */
export interface Hook {
  readonly argv: readonly string[];
  readonly shell: boolean;
}

export interface CarpInstance {
  readonly kind: 'carp';
  /** Unique name used in logs, status and the control socket. */
  readonly name: string;
  /** Interface name as given (may be an alias label such as `eth0:carp0`). */
  readonly interface: string;
  /** Source address of adverts and tie-break key; undefined = primary IPv4 of the interface. */
  readonly srcip?: string;
  /** Virtual host id 1..255. */
  readonly vhid: number;
  /** Shared secret, at most 19 bytes (ucarp keeps a 20-byte buffer with the NUL). */
  readonly password: string;
  /** Seconds 0..255; interval = advbase + advskew/256 s. */
  readonly advbase: number;
  /** 1/256 s units, 0..255. */
  readonly advskew: number;
  /** Master-down = advbase*deadratio + advskew/256 s (ucarp formula). */
  readonly deadratio: number;
  readonly preempt: boolean;
  /** Do not run the down hook on the initial INIT -> BACKUP. */
  readonly neutral: boolean;
  /** IPv4 addresses; the first is what ucarp calls `--addr`. All are in the HMAC. */
  readonly addresses: readonly VirtualAddress[];
  /** Multicast group adverts go to (224.0.0.18). */
  readonly mcast: string;
  /** ucarp `--nomcast`: broadcast at the link layer, no IGMP join. */
  readonly nomcast: boolean;
  /** True in native mode: carpool adds/removes `addresses` and sends gratuitous ARP itself. */
  readonly manageAddresses: boolean;
  readonly upHook?: Hook;
  readonly downHook?: Hook;
  /** Extra argument appended to hook argv (ucarp `--xparam`). */
  readonly xparam?: string;
  /** Run the down hook (and release addresses) on SIGTERM/SIGINT/SIGHUP/SIGQUIT (ucarp `-z`). */
  readonly shutdownHooks: boolean;
  /** Ignore the interface's carrier state (ucarp `-S`). */
  readonly ignoreIfState: boolean;
}

export type Instance = CarpInstance;

export interface LoggingConfig {
  /** syslog facility name (`daemon`, `local0`...) or `none`. */
  readonly facility: string;
  readonly debug: boolean;
  /** syslog ident (`ucarp` in ucarp mode so existing greps keep working). */
  readonly ident: string;
}

export interface CarpoolConfig {
  /** File the configuration came from (or `<command line>`). */
  readonly source: string;
  readonly instances: readonly Instance[];
  readonly logging: LoggingConfig;
  /** Unix control socket path (mode 0600, root only). */
  readonly controlSocket: string;
  /** Directory for the state file that records addresses the daemon added. */
  readonly stateDir: string;
}

export const DEFAULT_CONTROL_SOCKET = '/run/carpool/carpool.sock';
export const DEFAULT_STATE_DIR = '/run/carpool';
export const CARP_MCAST = '224.0.0.18';
