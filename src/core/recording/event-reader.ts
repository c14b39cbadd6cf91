import { validationProblems, validatorFor } from '../validate';
import { EVENT_DATA_SCHEMAS, EVENT_ENVELOPE_SCHEMA, sampleRowMismatch, type RecordedEvent } from './events';
import { scanJournal, type JournalDamage } from './journal';

/**
 * Null when `e` is an event of the recording schema (events.ts); otherwise what is wrong with it, naming
 * the field: `statement event: data.decision: must be one of "allow", "deny"`.
 */
export function eventProblem(e: unknown): string | null {
  const envelope = validatorFor(EVENT_ENVELOPE_SCHEMA);
  if (!envelope(e)) return validationProblems(envelope.errors, 'event').join('; ');
  const event = e as RecordedEvent;
  const data = validatorFor(EVENT_DATA_SCHEMAS[event.type]);
  if (!data(event.data)) return `${event.type} event: ${validationProblems(data.errors, 'data').join('; ')}`;
  const row = event.type === 'statement' && event.data.sample ? sampleRowMismatch(event.data.sample) : -1;
  return row < 0 ? null : `statement event: data.sample.rows[${row}]: wrong number of values`;
}

/** Every valid event of the journal, and the lines that are not. */
export function readEvents(dir: string): { events: RecordedEvent[]; damaged: JournalDamage[] } {
  const events: RecordedEvent[] = [];
  const damaged: JournalDamage[] = [];
  scanEvents(dir, 0, { event: (e) => events.push(e), damaged: (d) => damaged.push(d) });
  return { events, damaged };
}

export interface EventVisitor {
  /** A valid event, with the byte offset of its line. */
  event(e: RecordedEvent, offset: number): void;
  /** A line that is not a valid event: unreadable, or not of the schema (the problem says where). */
  damaged?(d: JournalDamage): void;
}

/**
 * Reads the journal's events from `offset` like scanJournal, checking each against the schema: a line
 * that does not match is reported to `damaged` and skipped, so a garbled or tampered line never reaches
 * (or breaks) the index, the exports or the replay.
 */
export function scanEvents(
  dir: string,
  offset: number,
  visit: EventVisitor,
  /** Stop before lines that start at or after this offset. */
  end = Infinity,
): number {
  return scanJournal(
    dir,
    offset,
    {
      event: (e, at, _length, _text, line) => {
        const problem = eventProblem(e);
        if (problem === null) visit.event(e as unknown as RecordedEvent, at);
        else visit.damaged?.({ line, offset: at, problem: `not a recording event: ${problem}` });
      },
      damaged: (d) => visit.damaged?.(d),
    },
    1,
    end,
  );
}
