// Library surface of the node agent: its configuration and daemon. The fetch-and-verify path
// it is built on lives in @trustswarm/fetch, shared with the CVMFS bridge.

export { type AgentConfig, configSchema, loadConfig } from './config.js';
export { AgentDaemon, type AgentStatus } from './daemon.js';
export { AgentError, type AgentErrorCode, errorCode } from './errors.js';
