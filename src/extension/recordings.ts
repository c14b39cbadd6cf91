import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import { RecordingStore } from '../core/recording/store';

/**
 * The recordings the UI reads (the sessions tree, replay panels, export, pick-a-session): one store over
 * the current recordings folder, reopened when the configuration points elsewhere, and an event when the
 * journal changes. Owned by the extension shell, not by a view, so every reader borrows the same one.
 */
export class Recordings implements vscode.Disposable {
  private store: Promise<RecordingStore> | null = null;
  private folder = '';
  private watcher: FSWatcher | null = null;
  private readonly changed = new vscode.EventEmitter<void>();
  /** The journal changed (fires for every write: readers debounce). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly currentFolder: () => string,
    private readonly log: OutputLog,
  ) {}

  /** The store of the current recordings folder, brought up to date with the journal. */
  async open(): Promise<RecordingStore> {
    const folder = this.currentFolder();
    if (!this.store || folder !== this.folder) {
      const previous = this.store;
      this.folder = folder;
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      this.store = RecordingStore.open(folder);
      void previous?.then((s) => s.close());
      this.watch(folder);
    }
    const store = await this.store;
    store.refresh();
    return store;
  }

  private watch(folder: string): void {
    this.watcher?.close();
    try {
      this.watcher = watch(folder, () => this.changed.fire());
      this.watcher.on('error', () => undefined);
    } catch (err) {
      this.log.warn(`sessions: cannot watch ${folder}: ${(err as Error).message}`);
    }
  }

  dispose(): void {
    this.watcher?.close();
    void this.store?.then((s) => s.close());
    this.changed.dispose();
  }
}
