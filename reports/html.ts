import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteBlob, EvidenceRecord } from '../harness/evidence.js';
import type { Label, Observation, TargetReport, Verdict, VerdictRecord } from '../harness/report-schema.js';
import type { SchemeId } from '../profiles/schema.js';
import type { ReportWriter, RunModel } from './types.js';

/** What needs attention first. */
const ORDER: readonly Verdict[] = ['FAIL', 'INCONCLUSIVE', 'PASS', 'NOT_APPLICABLE', 'NOT_ASSESSED'];

/** Typed by scheme id: a new scheme without a display name fails the typecheck, not the page. */
export const SCHEME_NAMES: Record<SchemeId, string> = {
  'etsi-en-303-645': 'ETSI EN 303 645',
  'nist-ir-8425': 'NIST IR 8425',
  'uk-psti': 'UK PSTI',
  'sg-cls': 'Singapore CLS',
  'en-18031-1': 'EN 18031-1',
  'jc-star': 'JC-STAR',
};

const MEANING: Record<Verdict, string> = {
  FAIL: 'the device was seen not to meet the provision',
  INCONCLUSIVE: 'the harness could not decide; retest or judge by hand',
  PASS: 'the device was seen to meet the provision, or the declaration shows it',
  NOT_APPLICABLE: 'the provision’s condition does not hold for this device',
  NOT_ASSESSED: 'needs an assessor and the documentation; a probe cannot judge it',
};

/**
 * Everything that reaches the page from the run model goes through here, device text above all (a
 * banner is whatever the device chose to send). Quotes too, so the same function serves attributes.
 * CR as a reference: the HTML parser turns a literal CRLF into LF, and the evidence is the bytes.
 */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"'\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A DOM id from report values: stable for the same report, and no character that needs escaping. */
function domId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_.-]/g, '_')).join('--');
}

function countVerdicts(verdicts: readonly VerdictRecord[]): Map<Verdict, number> {
  const counts = new Map<Verdict, number>(ORDER.map((v) => [v, 0]));
  for (const v of verdicts) counts.set(v.verdict, (counts.get(v.verdict) ?? 0) + 1);
  return counts;
}

function countChips(verdicts: readonly VerdictRecord[], testIdPrefix: string): string {
  const counts = countVerdicts(verdicts);
  const chips = ORDER.map((v) => `<li class="chip v-${v}"><span class="n" data-testid="${testIdPrefix}verdict-count-${v}">${counts.get(v) ?? 0}</span> ${v}</li>`);
  return `<ul class="chips">${chips.join('')}</ul>`;
}

function labelText(label: Label | undefined): { text: string; isReady: boolean } {
  if (!label) return { text: 'no label result', isReady: false };
  if (label.level === undefined) return { text: label.ready ? 'ready' : `not ready: ${label.blocking.length} blocking`, isReady: label.ready };
  const reached = label.level > 0 ? `level ${label.level} reached` : 'no level reached';
  return { text: `${reached}${label.blocking.length ? `; ${label.blocking.length} blocking the next level` : ''}`, isReady: label.ready };
}

function schemesOf(t: TargetReport): SchemeId[] {
  return [...new Set(t.verdicts.map((v) => v.scheme))];
}

/** Short values on one line: most observations are a handful of fields, and a projector has few lines. */
function json(value: unknown): string {
  const flat = JSON.stringify(value);
  return pre(flat.length <= 100 ? flat : JSON.stringify(value, null, 2), 'json');
}

function pre(text: string, cls: string): string {
  return `<pre class="${cls}">${esc(text)}</pre>`;
}

function blobBlock(name: string, b: ByteBlob): string {
  const cut = b.truncated ? ' (first 4096 bytes shown)' : '';
  return `<h5>${name}: ${b.bytes} bytes${cut}, sha256 <code>${esc(b.sha256)}</code></h5>${pre(b.text, `bytes ${name.toLowerCase()}`)}`;
}

/** The body of one evidence record; the verdict drill-downs show a copy of it (see SCRIPT). */
function recordBody(r: EvidenceRecord): string {
  const where = r.port === undefined ? '' : `<dt>port</dt><dd>${esc(r.transport ?? 'tcp')}/${r.port}</dd>`;
  return `<div class="record-body"><p class="ev-summary">${esc(r.summary)}</p><dl class="meta">`
    + `<dt>record</dt><dd>${esc(r.id)} (seq ${r.seq})</dd><dt>time</dt><dd>${esc(r.time)}</dd><dt>probe</dt><dd>${esc(r.probe)}</dd><dt>kind</dt><dd>${esc(r.kind)}</dd>${where}`
    + `<dt>hash</dt><dd><code>${esc(r.hash)}</code></dd><dt>prev</dt><dd><code>${esc(r.prev)}</code></dd></dl>`
    + `${r.sent ? blobBlock('Sent', r.sent) : ''}${r.received ? blobBlock('Received', r.received) : ''}`
    + `${r.data ? `<h5>Data</h5>${json(r.data)}` : ''}</div>`;
}

function recordHead(r: EvidenceRecord): string {
  const port = r.port === undefined ? '' : ` · ${esc(r.transport ?? 'tcp')}/${r.port}`;
  return `<code>${esc(r.id)}</code> · ${esc(r.kind)}${port} · ${esc(r.summary)}`;
}

function observationItem(id: string, byId: ReadonlyMap<string, Observation>): string {
  const o = byId.get(id);
  if (!o) return `<li class="observation missing" data-observation-id="${esc(id)}"><code>${esc(id)}</code>: not in report.json</li>`;
  const links = o.evidence.map((e) => `<a href="#${esc(domId('record', e))}">${esc(e)}</a>`).join(', ');
  return `<li class="observation" data-observation-id="${esc(o.id)}"><code>${esc(o.id)}</code> <strong>${esc(o.key)}</strong> by ${esc(o.probe)}${links ? `; evidence ${links}` : ''}${json(o.value)}</li>`;
}

function verdictEntry(t: TargetReport, v: VerdictRecord, byId: ReadonlyMap<string, Observation>, records: ReadonlyMap<string, EvidenceRecord>): string {
  const observations = v.observations.length
    ? `<h4>Observations (${v.observations.length})</h4><ul class="observations">${v.observations.map((id) => observationItem(id, byId)).join('')}</ul>`
    : `<p class="none">No observations: ${v.basis === 'conceptual' ? 'judged from the declaration or left to an assessor' : 'nothing was probed for it'}.</p>`;
  // Each record is written once, in the target's evidence list; a slot here names it and, when the
  // drill-down opens, gets a copy of it. Inlining every record per verdict made the demo page 7x larger.
  const evidence = v.evidence.length
    ? `<h4>Evidence records (${v.evidence.length})</h4>${v.evidence
        .map((e) => {
          const r = records.get(e);
          const head = r ? recordHead(r) : `<code>${esc(e)}</code>: not in evidence.jsonl`;
          return `<div class="slot" data-evidence-ref="${esc(e)}"><a href="#${esc(domId('record', e))}">${head}</a></div>`;
        })
        .join('')}`
    : '';
  return `<details class="verdict v-${v.verdict}" id="${esc(domId('verdict', t.id, v.scheme, v.provision))}" data-verdict="${v.verdict}" data-scheme="${esc(v.scheme)}" data-provision="${esc(v.provision)}">`
    + `<summary><span class="badge v-${v.verdict}">${v.verdict}</span> <span class="prov">${esc(v.provision)}</span> <span class="title">${esc(v.title)}</span>`
    + `<span class="rationale">${esc(v.rationale)}</span></summary>`
    + `<div class="drill"><p class="basis">Basis: ${v.basis === 'functional' ? 'functional (probed on the network)' : 'conceptual (from the declaration or documentation)'}.</p>${observations}${evidence}</div></details>`;
}

function schemeSection(t: TargetReport, scheme: SchemeId, byId: ReadonlyMap<string, Observation>, records: ReadonlyMap<string, EvidenceRecord>): string {
  const verdicts = t.verdicts.filter((v) => v.scheme === scheme).sort((a, b) => ORDER.indexOf(a.verdict) - ORDER.indexOf(b.verdict));
  const label = t.labels.find((l) => l.scheme === scheme);
  const { text, isReady } = labelText(label);
  const blocking = (label?.blocking ?? []).map((p) => `<a class="blocking" href="#${esc(domId('verdict', t.id, scheme, p))}">${esc(p)}</a>`).join(', ');
  const assessed = verdicts.filter((v) => v.verdict !== 'NOT_ASSESSED');
  const notAssessed = verdicts.filter((v) => v.verdict === 'NOT_ASSESSED');
  const entry = (v: VerdictRecord): string => verdictEntry(t, v, byId, records);
  const group = notAssessed.length
    ? `<details class="not-assessed" data-testid="not-assessed-group"><summary>NOT_ASSESSED: ${notAssessed.length} provision(s) need an assessor (click to list them)</summary>${notAssessed.map(entry).join('')}</details>`
    : '';
  return `<section class="scheme" id="${esc(domId('scheme', t.id, scheme))}" data-scheme="${esc(scheme)}">`
    + `<h3>${esc(SCHEME_NAMES[scheme])} <span class="sid">${esc(scheme)}</span></h3>`
    + `<p class="label ${isReady ? 'ready' : 'not-ready'}" data-testid="label-readiness" data-ready="${isReady}"${label?.level === undefined ? '' : ` data-level="${label.level}"`}>Label: <strong>${esc(text)}</strong>${blocking ? `. Blocking: ${blocking}` : ''}</p>`
    + `${assessed.map(entry).join('')}${group}</section>`;
}

function targetSection(t: TargetReport, records: readonly EvidenceRecord[]): string {
  const byId = new Map(t.observations.map((o) => [o.id, o]));
  const recordById = new Map(records.map((r) => [r.id, r]));
  const own = records.filter((r) => r.target === t.id);
  const device = t.declaration?.device ? Object.entries(t.declaration.device).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ') : '';
  const decl = t.declaration ? `Declaration <code>${esc(t.declaration.path)}</code> (sha256 <code>${esc(t.declaration.sha256)}</code>)${device ? `: ${device}` : ''}.` : 'No declaration: provisions that need one are NOT_ASSESSED or INCONCLUSIVE.';
  const services = t.services.length
    ? `<table class="services"><thead><tr><th>Port</th><th>Protocol</th><th>TLS</th></tr></thead><tbody>${t.services.map((s) => `<tr data-service="${esc(`${s.transport}/${s.port}`)}"><td>${esc(s.transport)}/${s.port}</td><td>${esc(s.protocol)}</td><td>${s.tls ? 'yes' : 'no'}</td></tr>`).join('')}</tbody></table>`
    : '<p>No open services found.</p>';
  const rows = schemesOf(t).map((scheme) => {
    const counts = countVerdicts(t.verdicts.filter((v) => v.scheme === scheme));
    const { text, isReady } = labelText(t.labels.find((l) => l.scheme === scheme));
    return `<tr data-scheme="${esc(scheme)}"><th><a href="#${esc(domId('scheme', t.id, scheme))}">${esc(SCHEME_NAMES[scheme])}</a></th>${ORDER.map((v) => `<td class="num" data-testid="scheme-verdict-count-${v}">${counts.get(v) ?? 0}</td>`).join('')}<td class="${isReady ? 'ready' : 'not-ready'}">${esc(text)}</td></tr>`;
  });
  return `<section class="target" id="${esc(domId('target', t.id))}" data-target="${esc(t.id)}"><h2>${esc(t.id)} <span class="addr">${esc(t.address)}</span></h2>`
    + `<p>${decl}</p>${countChips(t.verdicts, 'target-')}<h3>Services</h3>${services}`
    + `<h3>Label readiness</h3><table class="labels"><thead><tr><th>Scheme</th>${ORDER.map((v) => `<th class="num">${v.replace('_', ' ')}</th>`).join('')}<th>Label</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
    + schemesOf(t).map((s) => schemeSection(t, s, byId, recordById)).join('')
    + `<details class="records"><summary>All ${own.length} evidence records of ${esc(t.id)} (evidence.jsonl)</summary>`
    + own.map((r) => `<details class="record" id="${esc(domId('record', r.id))}" data-evidence-id="${esc(r.id)}"><summary>${recordHead(r)}</summary>${recordBody(r)}</details>`).join('')
    + '</details></section>';
}

const STYLE = `
:root{--fail:#a4001d;--inc:#7a4d00;--pass:#1b6b21;--na:#4d4d4d;--nass:#d9d9d9;--line:#bbb;--soft:#f3f3f3}
*{box-sizing:border-box}
html{font-size:20px}
body{margin:0 auto;max-width:64rem;padding:1rem 1.5rem 4rem;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111;background:#fff}
h1{font-size:1.8rem;margin:.5rem 0}h2{font-size:1.5rem;margin-top:2.5rem;border-bottom:3px solid #111}h3{font-size:1.25rem;margin:1.5rem 0 .5rem}h4,h5{margin:.75rem 0 .25rem;font-size:1rem}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.9em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);border:1px solid var(--line);padding:.5rem;margin:.25rem 0;max-height:30rem;overflow:auto}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid var(--line);padding:.25rem .6rem;text-align:left;vertical-align:top}td.num,th.num{text-align:right}
.chips{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem}.chip{padding:.2rem .7rem;border-radius:.4rem;font-weight:600}.chip .n{font-size:1.2rem}
.v-FAIL{background:var(--fail);color:#fff}.v-INCONCLUSIVE{background:var(--inc);color:#fff}.v-PASS{background:var(--pass);color:#fff}.v-NOT_APPLICABLE{background:var(--na);color:#fff}.v-NOT_ASSESSED{background:var(--nass);color:#111}
details.verdict{background:#fff;color:#111;border:1px solid var(--line);border-left:.6rem solid var(--nass);margin:.4rem 0}
details.verdict.v-FAIL{border-left-color:var(--fail)}details.verdict.v-INCONCLUSIVE{border-left-color:var(--inc)}details.verdict.v-PASS{border-left-color:var(--pass)}details.verdict.v-NOT_APPLICABLE{border-left-color:var(--na)}
summary{cursor:pointer;padding:.4rem .6rem}summary:focus-visible{outline:3px solid #0645ad}
.badge{display:inline-block;min-width:9.5rem;text-align:center;font-weight:700;font-size:.85rem;padding:.1rem .4rem;border-radius:.3rem}
.prov{font-weight:700;margin:0 .4rem}.rationale{display:block;margin:.2rem 0 0 .2rem;color:#222}
.drill{padding:.25rem 1rem 1rem;border-top:1px solid var(--line)}.basis,.none{color:#333}
.slot{margin:.4rem 0;padding:.3rem .5rem;border:1px dashed var(--line)}.slot[data-filled]{border-style:solid}
details.not-assessed,details.records{border:1px solid var(--line);margin:.75rem 0;background:var(--soft)}
details.record{border-top:1px solid var(--line);background:#fff}
.record-body,.slot .record-body{padding:.25rem .75rem}.ev-summary{font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:0 1rem;margin:.25rem 0;font-size:.9rem}dl.meta dt{font-weight:600}dl.meta dd{margin:0;overflow-wrap:anywhere}
.label.ready strong,td.ready{color:var(--pass);font-weight:700}.label.not-ready strong,td.not-ready{color:var(--fail);font-weight:700}
.sid,.addr{font-weight:400;color:#444;font-size:.9rem}.legend dt{font-weight:700}.legend dd{margin:0 0 .4rem 1.5rem}
a{color:#0645ad}a.blocking{white-space:nowrap}
@media print{details{break-inside:avoid}pre{max-height:none}}
`;

// A copy of each record into the drill-down on first opening, and a followed #record link opens the
// <details> it points into. Copies are cloned DOM nodes, already escaped text: nothing is parsed.
const SCRIPT = `
function fill(d){if(!d.open)return;d.querySelectorAll('.slot[data-evidence-ref]:not([data-filled])').forEach(function(s){var r=document.getElementById('record--'+s.getAttribute('data-evidence-ref').replace(/[^A-Za-z0-9_.-]/g,'_'));var b=r&&r.querySelector('.record-body');if(b){s.appendChild(b.cloneNode(true));s.setAttribute('data-filled','');}});}
document.querySelectorAll('details.verdict').forEach(function(d){d.addEventListener('toggle',function(){fill(d);});});
function follow(){var h=location.hash.slice(1);var el=h&&document.getElementById(decodeURIComponent(h));if(!el)return;for(var p=el;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true;}el.scrollIntoView();}
window.addEventListener('hashchange',follow);follow();
`;

function sha256Base64(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

/** The whole page: one file, no external asset, and a policy that lets only our own style and script run. */
export function renderHtml(run: RunModel): string {
  const { report, evidence } = run;
  const all = report.targets.flatMap((t) => t.verdicts);
  // Escaping is the defence; the policy is the second one: a device string that slipped through could
  // neither run script nor load anything, because only these two hashes are allowed and nothing else.
  const csp = `default-src 'none'; style-src 'sha256-${sha256Base64(STYLE)}'; script-src 'sha256-${sha256Base64(SCRIPT)}'; img-src 'none'; base-uri 'none'; form-action 'none'`;
  const overview = report.targets.map((t) => {
    const counts = countVerdicts(t.verdicts);
    return `<tr data-target="${esc(t.id)}"><th><a href="#${esc(domId('target', t.id))}">${esc(t.id)}</a></th><td>${esc(t.address)}</td><td>${t.services.length ? t.services.map((s) => `${esc(s.protocol)} ${esc(s.transport)}/${s.port}`).join(', ') : 'none'}</td>${ORDER.map((v) => `<td class="num">${counts.get(v) ?? 0}</td>`).join('')}</tr>`;
  });
  const errors = report.errors.length
    ? `<section class="errors" id="errors"><h2>Harness errors (${report.errors.length})</h2><p>The harness itself could not tell; these are not device findings.</p><ul>${report.errors.map((e) => `<li data-error-code="${esc(e.code)}"><code>${esc(e.code)}</code> ${e.target ? `${esc(e.target)}${e.probe ? ` (${esc(e.probe)})` : ''}: ` : ''}${esc(e.message)}</li>`).join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<title>iot-harness report ${esc(report.run.id)}</title><style>${STYLE}</style></head>
<body data-run-id="${esc(report.run.id)}">
<header><h1>iot-harness report</h1>
<p>Run <code>${esc(report.run.id)}</code>, ${esc(report.run.startedAt)} to ${esc(report.run.finishedAt)}, harness ${esc(report.run.harness.version)}. Profiles: ${report.run.profiles.map((p) => `${esc(p.id)} ${esc(p.version)}`).join(', ')}.</p>
${countChips(all, '')}
<details class="legend-box"><summary>How to read this report</summary><dl class="legend">${ORDER.map((v) => `<dt><span class="badge v-${v}">${v}</span></dt><dd>${MEANING[v]}</dd>`).join('')}</dl>
<p>A label is ready when every mandatory provision of its scheme is PASS or NOT_APPLICABLE; the blocking provisions are the ones that are not. Open a provision to see the observations behind its verdict and the raw evidence records (what was sent and received, with hashes); evidence.jsonl beside this file holds the same records in a hash chain that <code>iot-harness verify</code> checks.</p></details></header>
<main><h2>Devices</h2><table class="overview"><thead><tr><th>Device</th><th>Address</th><th>Services</th>${ORDER.map((v) => `<th class="num">${v.replace('_', ' ')}</th>`).join('')}</tr></thead><tbody>${overview.join('')}</tbody></table>
${errors}${report.targets.map((t) => targetSection(t, evidence)).join('\n')}</main>
<footer><p>Rendered from report.json (${esc(report.schema)}) and evidence.jsonl.</p></footer>
<script>${SCRIPT}</script></body></html>
`;
}

export const htmlWriter: ReportWriter = {
  id: 'html',
  description: 'report.html: one self-contained page (no external assets) with verdicts, label readiness and a drill-down to the evidence',
  async write(run, outDir) {
    const path = join(outDir, 'report.html');
    // Through a temp file: a failed write never leaves half a page that looks like a report.
    await writeFile(`${path}.tmp`, renderHtml(run));
    await rename(`${path}.tmp`, path);
    return ['report.html'];
  },
};
