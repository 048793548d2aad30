/** The `orva` node process: config from the environment, graceful stop on SIGTERM/SIGINT. */
import { loadConfig } from './config.ts';
import { closeInheritedFds } from './inherited-fds.ts';
import { createLogger } from './logger.ts';
import { OrvaNode } from './node.ts';

const inherited = closeInheritedFds();
const config = loadConfig();
const log = createLogger(config.logLevel, config.nodeId);
if (inherited.length > 0) log.info({ fds: inherited }, 'closed inherited descriptors so no sandbox receives them');
const node = new OrvaNode(config, log);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'signal received');
  try {
    await node.stop();
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'stop failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

node.start().catch((err) => {
  log.fatal({ err }, 'node failed to start');
  process.exit(1);
});
