/** `carpool ucarp --help`. */
import { PASSWORD_MAX_BYTES } from '../common.js';

/** Usage text in the layout of `ucarp --help` (our own words), ending with carpool's differences. */
export function ucarpUsage(program = 'carpool ucarp'): string {
  return `${program} - ucarp 1.5.2 compatible command line

--interface=<if> (-i <if>): interface to run on (default: the first up, non-loopback interface)
--srcip=<ip> (-s <ip>): this host's own IPv4 address (advert source and tie-break) - required
--mcastip=<ip>: multicast group of the adverts (default 224.0.0.18); no short form, --mcast=<ip> works
--vhid=<id> (-v <id>): virtual host id 1-255, the same on every node - required
--pass=<pass> (-p <pass>): shared password, at most ${PASSWORD_MAX_BYTES} bytes - required unless --passfile
--passfile=<file> (-o <file>): read the password from the first line of <file>
--preempt (-P): take over from a master that advertises less often
--neutral (-n): do not run the down script when starting as backup
--addr=<ip> (-a <ip>): the shared virtual IPv4 address - required
--help (-h): show this summary
--advbase=<seconds> (-b <seconds>): advertisement interval in seconds, 0-255 (default 1)
--advskew=<skew> (-k <skew>): added to the interval in 1/256 s, 0-255 (default 0); higher = less preferred
--upscript=<file> (-u <file>): run "<file> <interface> <addr> [<xparam>]" when becoming master
--downscript=<file> (-d <file>): run "<file> <interface> <addr> [<xparam>]" when becoming backup
--deadratio=<ratio> (-r <ratio>): declare the master dead after advbase*ratio + advskew/256 s of silence (default 3)
--debug (-D): log debug messages
--shutdown (-z): run the down script when stopped by SIGTERM, SIGINT, SIGHUP or SIGQUIT
--daemonize (-B): run in the background
--ignoreifstate (-S): keep running the election when the interface is down or has no carrier
--nomcast (-M): send adverts to the Ethernet broadcast address (the IP destination stays the group)
--facility=<facility> (-f <facility>): syslog facility (default daemon; none = no syslog)
--xparam=<value> (-x <value>): extra last argument for the up and down scripts

Long options may be abbreviated while unambiguous (--inter=eth0); short ones may be grouped (-Pz).

Example: keep 10.1.1.252 on eth0 with virtual host id 1, this host being 10.1.1.1; the scripts
add and remove the address (carpool ucarp, like ucarp, does not touch it itself):

  ${program} --interface=eth0 --srcip=10.1.1.1 --vhid=1 --pass=mypassword \\
      --addr=10.1.1.252 \\
      --upscript=/etc/vip-up.sh --downscript=/etc/vip-down.sh

Where carpool deliberately differs from ucarp 1.5.2:
  - an unknown or ambiguous option, a missing value or a value given to a flag is an error (exit 1);
    ucarp prints this summary and exits 0
  - -b and -k outside 0-255 and -r outside 1-255 are errors (ucarp keeps the low 8 bits of -b/-k)
  - numbers must be whole: -b 1s is an error (ucarp reads 1); 0x2a (hex) and 010 (octal) work as in ucarp
  - --mcastip must be a multicast address unless --nomcast; -u '' and -d '' are errors
  - every problem is reported, not just the first; a too long password exits 1 (ucarp: 2)
  - the password is hidden from ps
  - a lone -m is still rejected, as by ucarp; use --mcastip
`;
}
