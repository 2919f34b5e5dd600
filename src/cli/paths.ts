import { DEFAULT_STATE_DIR } from '../config/model.js';

/**
 * Where `carpool ucarp` daemons put their control sockets and state, and where
 * `carpool status` looks for daemons: /run/carpool, or $CARPOOL_RUN_DIR (tests and labs
 * that run several hosts in namespaces of one machine, which share one file system).
 */
export const RUN_DIR: string = process.env.CARPOOL_RUN_DIR ?? DEFAULT_STATE_DIR;
