/** The page's elements, looked up once. */

function $<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}

export const ui = {
  status: $<HTMLParagraphElement>("status"),
  stateLabel: $<HTMLParagraphElement>("state-label"),
  avatar: $<HTMLDivElement>("avatar"),
  progress: $<HTMLElement>("progress"),
  timeLeft: $<HTMLElement>("time-left"),
  latency: $<HTMLElement>("latency"),
  micMeter: $<HTMLDivElement>("mic-meter"),
  micBar: $<HTMLDivElement>("mic-bar"),
  notice: $<HTMLDivElement>("notice"),
  error: $<HTMLDivElement>("error"),
  report: $<HTMLParagraphElement>("report"),
  reportLink: $<HTMLAnchorElement>("report-link"),
  form: $<HTMLFormElement>("setup"),
  fields: $<HTMLFieldSetElement>("fields"),
  mode: $<HTMLSelectElement>("mode"),
  name: $<HTMLInputElement>("name"),
  role: $<HTMLInputElement>("role"),
  jobDescription: $<HTMLTextAreaElement>("job_description"),
  resume: $<HTMLTextAreaElement>("resume"),
  connectionChoice: $<HTMLDivElement>("connection-choice"),
  connection: $<HTMLSelectElement>("connection"),
  useLocal: $<HTMLButtonElement>("use-local"),
  consent: $<HTMLDivElement>("consent"),
  record: $<HTMLInputElement>("record"),
  start: $<HTMLButtonElement>("start"),
  stop: $<HTMLButtonElement>("stop"),
  transcript: $<HTMLOListElement>("transcript"),
};
