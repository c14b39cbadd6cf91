import { parseArgs } from 'node:util';
import { DocumentError } from '../core/validate';
import { demoCommand, demoUsage } from './demo-command';
import { proxyCommand, proxyUsage } from './proxy-command';
import { policyCommand, policyUsage } from './policy-command';
import { UsageError } from './usage-error';
import { verifyCommand, verifyUsage } from './verify-command';
import { sessionsCommand, sessionsUsage } from './sessions-command';
import { mcpCommand, mcpUsage } from './mcp-command';
import { approvalsCommand, approvalsUsage } from './approvals-command';
import { serverCommand, serverUsage } from './server-command';
import { writeText } from './human-output';
import {
  loginCommand,
  loginUsage,
  logoutCommand,
  logoutUsage,
  whoamiCommand,
  whoamiUsage,
} from './login-command';

const usage = `Usage: airlock <command> [options]

Commands:
  ${proxyUsage.split('\n')[0]}
  ${demoUsage.split('\n')[0]}
  ${verifyUsage.split('\n')[0]}
  ${sessionsUsage.split('\n')[0]}
  ${mcpUsage.split('\n')[0]}
  ${approvalsUsage.split('\n')[0]}
  ${loginUsage.split('\n')[0]}
  ${logoutUsage.split('\n')[0]}
  ${whoamiUsage.split('\n')[0]}
  ${policyUsage.split('\n').slice(0, 3).join('\n  ')}
  ${serverUsage.split('\n').slice(0, 4).join('\n  ')}

airlock <command> --help shows more.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      'ready-file': { type: 'string' },
      policy: { type: 'string' },
      connection: { type: 'string' },
      user: { type: 'string' },
      agent: { type: 'string' },
      channel: { type: 'string' },
      key: { type: 'string' },
      kid: { type: 'string' },
      jwks: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      ttl: { type: 'string' },
      'public-key': { type: 'string' },
      actor: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      decision: { type: 'string' },
      live: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      all: { type: 'boolean' },
      format: { type: 'string' },
      session: { type: 'boolean' },
      reason: { type: 'string' },
      'database-url': { type: 'string' },
      server: { type: 'string' },
      groups: { type: 'string' },
      connections: { type: 'string' },
      comment: { type: 'string' },
      priority: { type: 'string' },
      upstream: { type: 'string' },
      device: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  switch (command) {
    case 'proxy':
      if (values.help) return help(proxyUsage);
      return proxyCommand(values);
    case 'policy':
      if (values.help) return help(policyUsage);
      return policyCommand(positionals[0], positionals.slice(1), values);
    case 'verify':
      if (values.help) return help(verifyUsage);
      return verifyCommand(values);
    case 'sessions':
      if (values.help) return help(sessionsUsage);
      return sessionsCommand(positionals[0], positionals.slice(1), values);
    case 'mcp':
      if (values.help) return help(mcpUsage);
      return mcpCommand(values);
    case 'approvals':
      if (values.help) return help(approvalsUsage);
      return approvalsCommand(positionals[0], positionals.slice(1), values);
    case 'server':
      if (values.help) return help(serverUsage);
      return serverCommand(positionals[0], positionals.slice(1), values);
    case 'login':
      if (values.help) return help(loginUsage);
      return loginCommand(values);
    case 'logout':
      if (values.help) return help(logoutUsage);
      return logoutCommand(values);
    case 'whoami':
      if (values.help) return help(whoamiUsage);
      return whoamiCommand(values);
    case 'demo':
      if (values.help) return help(demoUsage);
      return demoCommand(values);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return help(usage);
    default:
      throw new UsageError(`unknown command "${command}"`, usage);
  }
}

function help(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

/**
 * Exits once stdout and stderr have handed everything written to the OS. Node writes to a pipe
 * asynchronously: process.exit() with a write still queued (the reader momentarily behind) would cut
 * the output short — an export missing its last events.
 */
function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exitAfterOutput, (err: unknown) => {
  if (err instanceof UsageError) {
    writeText(process.stderr, `airlock: ${err.message}\n\n${err.usage}\n`);
    return exitAfterOutput(2);
  }
  if (err instanceof DocumentError) {
    writeText(process.stderr, `airlock: invalid config ${err.message}\n`);
    return exitAfterOutput(2);
  }
  const e = err as Error & { code?: string };
  writeText(process.stderr, `airlock: ${e.message}\n`);
  exitAfterOutput(e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1);
});
