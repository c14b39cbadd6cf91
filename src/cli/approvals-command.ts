import path from 'node:path';
import { ControlChannelClient, type PendingReviewInfo } from '../ipc/control-channel';
import { UsageError } from './usage-error';
import { writeText } from './human-output';
import { actorLabel } from '../core/identity/actor';

export const approvalsUsage = `airlock approvals [approve|deny ID] --config FILE [--session] [--reason TEXT]

Statements waiting for review in the Airlock running FILE (airlock proxy, airlock mcp or VS Code), through
its control channel. Without a subcommand, lists them; approve ID runs one (--session: identical statements
of that session need no further review), deny ID refuses it with --reason. ID may be a unique prefix.`;

async function snapshot(client: ControlChannelClient): Promise<PendingReviewInfo[]> {
  return new Promise((resolve, reject) => {
    let first = true;
    client
      .watchApprovals((pending) => {
        if (!first) return;
        first = false;
        resolve(pending);
      })
      .catch(reject);
  });
}

function describe(p: PendingReviewInfo): string {
  const who = actorLabel(p.actor);
  const left = Math.max(0, Math.round((p.deadline - Date.now()) / 1000));
  return `${p.id}  [${p.connection}] ${who}, rule ${p.rule}, ${left}s left\n    ${p.sql.replace(/\n/g, '\n    ')}`;
}

export async function approvalsCommand(
  action: string | undefined,
  args: string[],
  options: { config?: string; session?: boolean; reason?: string },
): Promise<number> {
  if (!options.config) throw new UsageError('airlock approvals needs --config FILE', approvalsUsage);
  if (action !== undefined && action !== 'approve' && action !== 'deny' && action !== 'list')
    throw new UsageError(`unknown approvals action "${action}"`, approvalsUsage);
  if ((action === 'approve' || action === 'deny') && args.length !== 1)
    throw new UsageError(`airlock approvals ${action} needs the ID of one request`, approvalsUsage);
  const configFile = path.resolve(options.config);
  const client = await ControlChannelClient.connect(configFile, { client: 'airlock approvals' });
  if (!client) {
    process.stderr.write(`airlock: no running Airlock serves ${configFile}\n`);
    return 1;
  }
  try {
    const pending = await snapshot(client);
    if (action === undefined || action === 'list') {
      writeText(
        process.stdout,
        pending.length ? pending.map(describe).join('\n') + '\n' : 'no statement is waiting for review\n',
      );
      return 0;
    }
    const matches = pending.filter((p) => p.id.startsWith(args[0]));
    if (matches.length !== 1) {
      writeText(
        process.stderr,
        `airlock: ${matches.length ? `"${args[0]}" matches ${matches.length} requests` : `no request "${args[0]}" is waiting`}\n`,
      );
      return 1;
    }
    const [p] = matches;
    const decision = action === 'deny' ? 'deny' : options.session ? 'approve-session' : 'approve-once';
    const decided = await client.decide(p.id, p.nonce, decision, options.reason);
    process.stdout.write(decided ? `${decision}: ${p.id}\n` : `${p.id} was decided or withdrawn meanwhile\n`);
    return decided ? 0 : 1;
  } finally {
    client.close();
  }
}
