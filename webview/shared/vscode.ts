/** The webview side of the VS Code API, typed by the messages a view may post. */

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState<T>(state: T): T;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface ViewHost<Out, State> {
  post(message: Out): void;
  /** The saved state, or undefined if there is none or it is not what `isState` accepts. */
  loadState(): State | undefined;
  saveState(state: State): void;
}

export function viewHost<Out, State>(isState: (x: unknown) => x is State): ViewHost<Out, State> {
  const api = acquireVsCodeApi(); // may be called once per page
  return {
    post: (message) => api.postMessage(message),
    loadState: () => {
      try {
        const s = api.getState();
        return isState(s) ? s : undefined;
      } catch {
        return undefined;
      }
    },
    saveState: (state) => {
      api.setState(state);
    },
  };
}

/** Listens for messages from the extension; invalid ones are logged and ignored. */
export function onHostMessage<T>(
  parse: (x: unknown) => { ok: true; value: T } | { ok: false; error: string },
  handle: (message: T) => void,
): void {
  window.addEventListener('message', (event: MessageEvent) => {
    const result = parse(event.data);
    if (!result.ok) {
      console.warn(`Airlock: ignored an invalid message from the extension (${result.error})`);
      return;
    }
    handle(result.value);
  });
}
