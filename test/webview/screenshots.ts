/**
 * Renders the approval panel and the replay view with sample data in the light and dark themes and
 * saves PNGs: approval-light.png, approval-dark.png, replay-light.png, replay-dark.png.
 *
 *   npm run build && npx tsc -p . && node out/test/webview/screenshots.js docs/images
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Harness, type Theme } from './harness';
import { sampleRequests, sampleSession } from './sample-data';

export interface ScreenshotOptions {
  themes?: Theme[];
  viewport?: { width: number; height: number };
  deviceScaleFactor?: number;
}

/** Writes the screenshots into `outDir` and returns their paths. */
export async function renderScreenshots(outDir: string, options: ScreenshotOptions = {}): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const harness = await Harness.start();
  const written: string[] = [];
  const open = {
    viewport: options.viewport ?? { width: 1180, height: 800 },
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
  };
  try {
    for (const theme of options.themes ?? (['light', 'dark'] as const)) {
      const approval = await harness.open('approval', { ...open, theme });
      await approval.send({ type: 'requests', requests: sampleRequests() });
      await approval.page.locator('#detail[data-armed="true"]').waitFor();
      await approval.page.locator('#approve-once').focus();
      await approval.page.locator('#approve-once').blur();
      const approvalFile = path.join(outDir, `approval-${theme}.png`);
      await approval.page.screenshot({ path: approvalFile });
      await approval.close();
      written.push(approvalFile);

      const replay = await harness.open('replay', { ...open, theme });
      await replay.send({ type: 'session', ...sampleSession() });
      await replay.page.locator('#ev-2').click();
      await replay.page.locator('#timeline').focus();
      const replayFile = path.join(outDir, `replay-${theme}.png`);
      await replay.page.screenshot({ path: replayFile });
      await replay.close();
      written.push(replayFile);
    }
  } finally {
    await harness.close();
  }
  return written;
}

if (require.main === module) {
  renderScreenshots(process.argv[2] ?? path.join('docs', 'images')).then(
    (files) => console.log(files.join('\n')),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
