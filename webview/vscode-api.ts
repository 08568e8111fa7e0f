/** The webview side of the host channel, typed per panel. */
export interface VsCodeApi<ToHost, State> {
  postMessage(message: ToHost): void;
  getState(): State | undefined;
  setState(state: State): void;
}

declare function acquireVsCodeApi(): unknown;

export function vscodeApi<ToHost, State>(): VsCodeApi<ToHost, State> {
  return acquireVsCodeApi() as VsCodeApi<ToHost, State>;
}
