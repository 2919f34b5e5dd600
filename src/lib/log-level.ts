/** Log levels every state machine emits in `log` effects; the shell maps them to syslog. */
export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';
