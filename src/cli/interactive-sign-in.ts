import { spawn } from 'node:child_process';
import { startDeviceSignIn } from '../identity/device-sign-in';
import type { GrantResult } from '../identity/grant';
import type { Issuer } from '../identity/issuer';
import { startLoopbackSignIn } from '../identity/loopback-sign-in';
import { writeText } from './human-output';

/**
 * How the person signs in: `browser` (code + PKCE on a loopback redirect; a browser is opened where a
 * desktop exists), `device` (a code entered on any device), or `either` — both offered at once, for a
 * shell without a desktop: the device code works from anywhere, the address from a browser that can
 * reach this machine's loopback (an ssh tunnel). The first to finish wins, the other is cancelled.
 */
export type SignInMode = 'browser' | 'device' | 'either';

export interface InteractiveSignIn {
  readonly completed: Promise<GrantResult>;
  cancel(): void;
}

/** Where no desktop is, nothing can open a browser here. */
export function hasDesktop(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.platform !== 'linux' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Starts the sign-in and prints what the person does; the addresses printed hold no token. */
export async function startInteractiveSignIn(
  issuer: Issuer,
  mode: SignInMode,
  out: NodeJS.WritableStream,
): Promise<InteractiveSignIn> {
  const device = mode === 'browser' ? undefined : await startDeviceSignIn(issuer);
  let browser;
  try {
    browser = mode === 'device' ? undefined : await startLoopbackSignIn(issuer);
  } catch (err) {
    device?.cancel();
    throw err;
  }
  const lines: string[] = [];
  if (device) {
    const minutes = Math.max(1, Math.round((device.expiresAt.getTime() - Date.now()) / 60_000));
    lines.push(
      `To sign in, open ${device.verificationUri} on any device and enter the code ${device.userCode}`,
      `(the code expires in ${minutes} min).`,
    );
  }
  if (browser) {
    const url = browser.authorizationUrl.href;
    if (device) lines.push('Or, in a browser that reaches this machine, open:', `  ${url}`);
    else
      lines.push(
        `${openBrowser(url) ? 'Sign in in the browser window that opened.' : 'Open this address in a browser to sign in:'} If none opened, open:`,
        `  ${url}`,
      );
  }
  writeText(out, lines.join('\n') + '\n');
  const pending = [browser, device].filter((p) => p !== undefined);
  const cancel = () => pending.forEach((p) => p.cancel());
  const completed = Promise.any(pending.map((p) => p.completed)).then(
    (tokens) => {
      cancel();
      return tokens;
    },
    // Both failed: the first one's reason is the one to act on.
    (err: AggregateError) => {
      throw err.errors[0];
    },
  );
  // Cancelled before anyone awaits: a failure then must not count as unhandled.
  completed.catch(() => undefined);
  return { completed, cancel };
}

/** Where a desktop exists, xdg-open the address; the printed address is the fallback either way. */
function openBrowser(url: string): boolean {
  if (process.platform !== 'linux' || !hasDesktop()) return false;
  try {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
