/**
 * The panel's CSS. Isolation without a shadow root: every rule is under the `.oasis-panel` root
 * class, so nothing leaks out; the root resets inheritance with `all: initial`, and every element
 * inside reverts the host's author styles (`all: revert`, with the specificity of one class, which
 * beats the host's element and descendant selectors) before the panel's own `op-` classes apply.
 * SVG elements are left out of the revert: their geometry (`width`, `height` of a `rect`) comes
 * from presentation attributes, which `all: revert` would wipe.
 * Why not a shadow root: React's events, portals, focus handling and testing tools work as usual
 * in the host's tree, the panel can be server-rendered, and hosts may still theme it on purpose
 * through the `--op-*` custom properties.
 */
export const PANEL_CSS = `
.oasis-panel{all:initial;display:block;box-sizing:border-box;container-type:inline-size;
 --op-bg:#ffffff;--op-fg:#1d2330;--op-muted:#5f6b7e;--op-line:#d9dee7;--op-soft:#f4f6fa;--op-accent:#2557d6;--op-accent-fg:#fff;
 --op-ok:#16794a;--op-ok-bg:#dcf3e7;--op-bad:#b42318;--op-bad-bg:#fde4e1;--op-warn:#8a5a00;--op-warn-bg:#fdf0cf;--op-info:#1e5bb8;--op-info-bg:#dde9fc;
 --op-focus:#2557d6;--op-radius:8px;
 background:var(--op-bg);color:var(--op-fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 padding:12px;border-radius:var(--op-radius);color-scheme:light}
.oasis-panel[data-theme=dark]{--op-bg:#12161f;--op-fg:#e5e9f0;--op-muted:#9aa5b8;--op-line:#2c3444;--op-soft:#1a2030;--op-accent:#6d9bff;--op-accent-fg:#0b1020;
 --op-ok:#5fd39a;--op-ok-bg:#12352a;--op-bad:#ff8a80;--op-bad-bg:#42181a;--op-warn:#f4c25b;--op-warn-bg:#3a2d0c;--op-info:#8ab4ff;--op-info-bg:#1b2a4a;--op-focus:#8ab4ff;color-scheme:dark}
.oasis-panel :where(*:not(svg,svg *)),.oasis-panel :where(*:not(svg,svg *))::before,.oasis-panel :where(*:not(svg,svg *))::after{all:revert;box-sizing:border-box}
.oasis-panel style{display:none}
.oasis-panel h1,.oasis-panel h2,.oasis-panel h3{margin:0 0 8px;font-weight:600;color:inherit;text-transform:none}
.oasis-panel h2{font-size:20px}.oasis-panel h3{font-size:15px}
.oasis-panel p{margin:6px 0}
.oasis-panel a{color:var(--op-accent)}
.oasis-panel code,.oasis-panel pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.oasis-panel :focus-visible{outline:2px solid var(--op-focus);outline-offset:2px}
.oasis-panel .op-top{display:flex;align-items:center;gap:12px;flex-wrap:wrap;margin-bottom:12px}
.oasis-panel .op-brand{font-weight:700;font-size:16px;margin-right:8px}
.oasis-panel .op-nav{display:flex;gap:4px;flex-wrap:wrap;margin:0;padding:0;list-style:none}
.oasis-panel .op-nav button{font:inherit;border:1px solid transparent;background:none;color:var(--op-fg);padding:6px 10px;border-radius:6px;cursor:pointer}
.oasis-panel .op-nav button[aria-current=page]{background:var(--op-accent);color:var(--op-accent-fg)}
.oasis-panel .op-nav button:hover:not([aria-current=page]){background:var(--op-soft)}
.oasis-panel .op-who{margin-left:auto;color:var(--op-muted);font-size:13px}
.oasis-panel .op-banner{padding:10px 12px;border-radius:var(--op-radius);margin-bottom:12px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.oasis-panel .op-banner-auth{background:var(--op-bad-bg);color:var(--op-bad);border:1px solid var(--op-bad)}
.oasis-panel .op-banner-role{background:var(--op-warn-bg);color:var(--op-warn);border:1px solid var(--op-warn)}
.oasis-panel .op-status{min-height:1.4em;color:var(--op-muted);font-size:13px;margin-bottom:6px}
.oasis-panel .op-page-head{display:flex;align-items:center;gap:8px;flex-wrap:wrap;justify-content:space-between;margin:4px 0 10px}
.oasis-panel .op-page-head h2{margin:0}
.oasis-panel .op-actions,.oasis-panel .op-row-actions{display:flex;gap:6px;flex-wrap:wrap;align-items:center}
.oasis-panel .op-btn{font:inherit;font-size:13px;line-height:1.2;padding:6px 11px;border-radius:6px;border:1px solid var(--op-line);background:var(--op-soft);color:var(--op-fg);cursor:pointer;white-space:nowrap}
.oasis-panel .op-btn:hover:not(:disabled){border-color:var(--op-accent)}
.oasis-panel .op-btn:disabled{opacity:.5;cursor:not-allowed}
.oasis-panel .op-btn.op-primary{background:var(--op-accent);color:var(--op-accent-fg);border-color:var(--op-accent)}
.oasis-panel .op-btn.op-danger{color:var(--op-bad);border-color:var(--op-bad)}
.oasis-panel .op-btn.op-ghost{background:none;border-color:transparent}
.oasis-panel .op-btn.op-small{padding:4px 8px;font-size:12px}
.oasis-panel .op-link{font:inherit;text-align:left;background:none;border:none;padding:0;color:var(--op-accent);text-decoration:underline;cursor:pointer}
.oasis-panel .op-muted{color:var(--op-muted)}
.oasis-panel .op-small{font-size:12px}
.oasis-panel .op-badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.oasis-panel .op-ok{background:var(--op-ok-bg);color:var(--op-ok)}
.oasis-panel .op-bad{background:var(--op-bad-bg);color:var(--op-bad)}
.oasis-panel .op-warn{background:var(--op-warn-bg);color:var(--op-warn)}
.oasis-panel .op-info{background:var(--op-info-bg);color:var(--op-info)}
.oasis-panel .op-muted.op-badge{background:var(--op-soft);color:var(--op-muted);border:1px solid var(--op-line)}
.oasis-panel .op-ok-bg{background:var(--op-ok)}.oasis-panel .op-bad-bg{background:var(--op-bad)}.oasis-panel .op-warn-bg{background:var(--op-warn)}.oasis-panel .op-muted-bg{background:var(--op-muted)}
.oasis-panel .op-cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-bottom:12px}
.oasis-panel .op-card,.oasis-panel .op-panel-box{border:1px solid var(--op-line);border-radius:var(--op-radius);padding:10px 12px;background:var(--op-bg);min-width:0}
.oasis-panel .op-card-label{color:var(--op-muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.oasis-panel .op-card-value{font-size:26px;font-weight:700}
.oasis-panel .op-card-ok .op-card-value{color:var(--op-ok)}
.oasis-panel .op-card-bad{border-color:var(--op-bad)}.oasis-panel .op-card-bad .op-card-value{color:var(--op-bad)}
.oasis-panel .op-grid-2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,380px),1fr));gap:12px;margin-bottom:12px}
.oasis-panel .op-chart{margin:0}.oasis-panel .op-chart svg{width:100%;height:auto;display:block}
.oasis-panel .op-chart figcaption{font-size:12px;color:var(--op-muted)}
.oasis-panel .op-bar-ok{fill:var(--op-ok)}.oasis-panel .op-bar-bad{fill:var(--op-bad)}
.oasis-panel .op-axis{stroke:var(--op-line)}.oasis-panel .op-axis-label{fill:var(--op-muted);font-size:9px}
.oasis-panel .op-key{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:middle}
.oasis-panel .op-key-ok{background:var(--op-ok)}.oasis-panel .op-key-bad{background:var(--op-bad)}
.oasis-panel .op-split-bar{display:flex;height:12px;border-radius:6px;overflow:hidden;background:var(--op-soft);margin:4px 0}
.oasis-panel .op-split-part{display:block;min-width:3px}
.oasis-panel .op-legend{display:flex;gap:12px;flex-wrap:wrap;list-style:none;padding:0;margin:4px 0 12px;font-size:13px}
.oasis-panel .op-failures{border-color:var(--op-bad)}
.oasis-panel .op-table-wrap{overflow-x:auto;border:1px solid var(--op-line);border-radius:var(--op-radius);margin-bottom:10px;display:block}
.oasis-panel .op-table{border-collapse:collapse;width:100%;font-size:13px}
.oasis-panel .op-table th,.oasis-panel .op-table td{text-align:left;padding:6px 8px;border:none;border-bottom:1px solid var(--op-line);vertical-align:top}
.oasis-panel .op-table th{background:var(--op-soft);font-weight:600;font-size:12px;color:var(--op-muted);white-space:nowrap}
.oasis-panel .op-table tr:last-child td{border-bottom:none}
.oasis-panel .op-row-bad td{background:var(--op-bad-bg)}
.oasis-panel .op-job-failing td:nth-child(2){box-shadow:inset 3px 0 var(--op-bad)}
.oasis-panel .op-job-paused td:nth-child(2){box-shadow:inset 3px 0 var(--op-muted)}
.oasis-panel .op-job-active td:nth-child(2){box-shadow:inset 3px 0 var(--op-ok)}
.oasis-panel .op-error-text{color:var(--op-bad)}
.oasis-panel .op-error-box{background:var(--op-bad-bg);color:var(--op-bad);border:1px solid var(--op-bad);border-radius:var(--op-radius);padding:8px 10px;margin:8px 0;overflow-wrap:anywhere}
.oasis-panel .op-error-box pre{white-space:pre-wrap;font-size:11px;margin:6px 0 0}
.oasis-panel .op-filters{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:10px;align-items:flex-end}
.oasis-panel .op-filters .op-field{min-width:130px;flex:1 1 130px;margin:0}
.oasis-panel .op-field{display:flex;flex-direction:column;gap:3px;margin-bottom:10px;min-width:0}
.oasis-panel .op-field label{font-size:12px;font-weight:600;color:var(--op-muted)}
.oasis-panel input,.oasis-panel select,.oasis-panel textarea{font:inherit;font-size:13px;color:var(--op-fg);background:var(--op-bg);border:1px solid var(--op-line);border-radius:6px;padding:6px 8px;min-width:0;max-width:100%}
.oasis-panel input[type=checkbox]{width:16px;height:16px;padding:0;margin:0;accent-color:var(--op-accent)}
.oasis-panel textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;resize:vertical}
.oasis-panel input[readonly]{background:var(--op-soft)}
.oasis-panel .op-invalid input,.oasis-panel .op-invalid select,.oasis-panel .op-invalid textarea{border-color:var(--op-bad);box-shadow:0 0 0 1px var(--op-bad)}
.oasis-panel .op-field-error{color:var(--op-bad);font-size:12px;font-weight:600}
.oasis-panel .op-hint{color:var(--op-muted);font-size:12px}
.oasis-panel .op-check{display:flex;gap:8px;align-items:center;margin-bottom:10px}
.oasis-panel fieldset{border:1px solid var(--op-line);border-radius:var(--op-radius);padding:10px 12px;margin:0 0 12px;min-width:0}
.oasis-panel legend{font-weight:600;padding:0 4px}
.oasis-panel .op-row{display:flex;gap:10px;flex-wrap:wrap}.oasis-panel .op-row .op-field{flex:1 1 120px}
.oasis-panel .op-job-form{max-width:860px}
.oasis-panel .op-preview{display:block;background:var(--op-soft);border-radius:6px;padding:8px 10px;font-size:13px;min-height:2.2em}
.oasis-panel .op-preview:empty{display:none}
.oasis-panel .op-preview ol{margin:4px 0 0;padding-left:22px}
.oasis-panel .op-batch{display:flex;gap:8px;align-items:center;flex-wrap:wrap;padding:8px 10px;background:var(--op-info-bg);border-radius:var(--op-radius);margin-bottom:10px}
.oasis-panel .op-pager{display:flex;gap:8px;align-items:center;margin:8px 0}
.oasis-panel .op-dialog{border:1px solid var(--op-line);border-radius:var(--op-radius);background:var(--op-bg);color:var(--op-fg);padding:14px 16px;width:min(520px,calc(100vw - 24px));max-height:calc(100vh - 40px);overflow:auto;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.oasis-panel .op-dialog::backdrop{background:rgba(10,14,22,.55)}
.oasis-panel .op-dialog-head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.oasis-panel .op-dialog-head h2{font-size:17px;margin:0}
.oasis-panel .op-run-head{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin-bottom:10px}
.oasis-panel .op-dl{display:grid;grid-template-columns:1fr;gap:2px;margin:0}
.oasis-panel .op-dl div{display:grid;grid-template-columns:130px 1fr;gap:8px;padding:3px 0;border-bottom:1px dashed var(--op-line)}
.oasis-panel .op-dl dt{color:var(--op-muted);font-size:12px}.oasis-panel .op-dl dd{margin:0;overflow-wrap:anywhere;font-size:13px}
.oasis-panel .op-pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--op-soft);padding:6px 8px;border-radius:6px;margin:4px 0;max-height:260px;overflow:auto}
.oasis-panel .op-log{list-style:none;margin:0;padding:6px 0;max-height:420px;min-height:120px;overflow:auto;background:#0d1117;color:#d6dde8;border-radius:6px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.oasis-panel .op-log li{padding:1px 10px;display:flex;gap:8px;flex-wrap:wrap}
.oasis-panel .op-log .op-muted{color:#8b95a7}
.oasis-panel .op-log-ts{color:#7d8799}.oasis-panel .op-log-level{width:3.5em;color:#7d8799;text-transform:uppercase}
.oasis-panel .op-log-fields{color:#9fb3d1}
.oasis-panel .op-log li.op-log-error{background:#4a1518;color:#ffb4ab}.oasis-panel .op-log li.op-log-error .op-log-level{color:#ff8a80;font-weight:700}
.oasis-panel .op-log li.op-log-warn{background:#3a2d0c;color:#ffe08a}
.oasis-panel .op-log-status{font-size:12px;font-weight:500;padding:1px 8px;border-radius:999px;background:var(--op-soft);color:var(--op-muted)}
.oasis-panel .op-log-status.op-log-live{background:var(--op-ok-bg);color:var(--op-ok)}
.oasis-panel .op-desired{color:var(--op-warn);font-weight:600}
.oasis-panel meter{width:70px;vertical-align:middle}
.oasis-panel progress{width:140px}
.oasis-panel .op-diff{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:8px}
.oasis-panel details summary{cursor:pointer;color:var(--op-accent)}
@container (max-width:560px){
 .oasis-panel .op-cardify thead{display:none}
 .oasis-panel .op-cardify tr{display:grid;grid-template-columns:auto 1fr auto;gap:2px 8px;padding:8px 10px;border-bottom:1px solid var(--op-line)}
 .oasis-panel .op-cardify td{display:block;border:none;padding:1px 0;box-shadow:none!important}
 .oasis-panel .op-cardify td.op-full{grid-column:1/-1}
 .oasis-panel .op-cardify td[data-label]::before{content:attr(data-label) ": ";color:var(--op-muted)}
 .oasis-panel .op-cardify tr.op-job-failing{box-shadow:inset 3px 0 var(--op-bad)}
 .oasis-panel .op-cardify tr.op-job-paused{box-shadow:inset 3px 0 var(--op-muted)}
 .oasis-panel .op-cardify tr.op-job-active{box-shadow:inset 3px 0 var(--op-ok)}
 .oasis-panel .op-who{margin-left:0;width:100%}
 .oasis-panel .op-card-value{font-size:22px}
 .oasis-panel .op-dl div{grid-template-columns:1fr}
}
@media (max-width:560px){.oasis-panel{padding:8px}.oasis-panel .op-who{margin-left:0;width:100%}}
@media (prefers-reduced-motion:reduce){.oasis-panel *{transition:none!important;animation:none!important}}
`;
