/** Small formatting helpers shared by the views. */

import { agentLabel } from '../../src/core/identity/actor';
import type { WebviewActor } from '../../src/shared/webviews/checks';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** "1:05", "12:00", "1:02:03" for a count of seconds. */
export function clock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** "4.2 ms", "850 ms", "1.2 s", "15.3 s", "3 min 05 s", "2 h 01 min". */
export function duration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** Local "2025-05-14 09:31:02". */
export function dateTime(iso: string | number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${timeOfDay(d)}`;
}

/** Local "09:31:02". */
export function timeOfDay(value: Date | string | number): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local "09:31:02.125". */
export function preciseTime(value: string | number): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${timeOfDay(d)}.${pad(d.getMilliseconds(), 3)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** A long id shortened for display ("3f2c9a1e…"); the full value goes in a title. */
export function shortId(id: string, keep = 8): string {
  return id.length > keep + 1 ? `${id.slice(0, keep)}…` : id;
}

/** "mcp:claude-code/1.0 (verified: MCP channel; client name claimed) for alice" / "alice". */
export function actorLabel(actor: WebviewActor): string {
  const agent = agentLabel(actor);
  return agent ? `${agent} for ${actor.user}` : actor.user;
}
