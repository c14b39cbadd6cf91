import type { AirlockConfig } from '../config/config';
import type { Logger } from '../core/log';
import { Recorder } from '../core/recording/recorder';

/** Opens the config's recordings folder for writing and says what start-up recovery found. */
export function openRecorder(folder: string, config: AirlockConfig, log: Logger): Recorder {
  const recorder = Recorder.open(folder, {
    sync: config.recordingSync,
    batchWindowMs: config.recordingSyncWindowMs,
    retentionDays: config.recordingRetentionDays,
  });
  log.info(`recording sessions to ${folder} (${config.recordingSync ?? 'batch'} sync)`);
  const { tornBytes, recovered, expired } = recorder.report;
  if (tornBytes) log.warn(`recordings: a torn last line (${tornBytes} bytes) was moved to journal.torn`);
  if (recovered.length)
    log.warn(
      `recordings: ${recovered.length} session(s) left open by a stopped proxy were closed and signed`,
    );
  if (expired) log.info(`recordings: ${expired} session(s) past retention removed`);
  return recorder;
}
