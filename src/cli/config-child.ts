/**
 * The short-lived process `carpool run` starts to read its configuration (run-cmd.ts): the
 * ordinary command line, whose `run` action answers the parent instead of starting a daemon.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2)) ?? 0;
