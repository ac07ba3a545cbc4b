/**
 * The widget's CSS, adopted as a constructable stylesheet into its shadow root: isolated from the host page
 * and allowed under a CSP without 'unsafe-inline' (no <style> element, no style attributes from strings).
 * Theme hooks: CSS custom properties (--rc-*) set on the host element by the page's CSS, and ::part() names.
 */
export const PRESETS: Record<string, Record<string, string>> = {
  default: { '--rc-accent': '#4f46e5', '--rc-radius': '16px' },
  ocean: { '--rc-accent': '#0369a1', '--rc-radius': '14px' },
  forest: { '--rc-accent': '#15803d', '--rc-radius': '12px' },
  sunset: { '--rc-accent': '#c2410c', '--rc-radius': '18px' },
  graphite: { '--rc-accent': '#334155', '--rc-radius': '8px' },
};

export const WIDGET_CSS = `
:host{--rc-accent:#4f46e5;--rc-accent-fg:#fff;--rc-radius:16px;--rc-font:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",sans-serif;
--rc-bg:#fff;--rc-fg:#111827;--rc-muted:#4b5563;--rc-subtle:#f3f4f6;--rc-border:#e5e7eb;--rc-bubble-in:#f1f3f6;--rc-bubble-in-fg:#111827;--rc-danger:#b91c1c;--rc-shadow:0 18px 50px rgba(15,23,42,.25);--rc-notice:#fff7ed;--rc-notice-fg:#7c2d12;
font-family:var(--rc-font);color:var(--rc-fg);font-size:14px;line-height:1.45}
:host([data-theme=dark]){--rc-bg:#111827;--rc-fg:#f3f4f6;--rc-muted:#b6bdc9;--rc-subtle:#1f2937;--rc-border:#374151;--rc-bubble-in:#1f2937;--rc-bubble-in-fg:#f3f4f6;--rc-danger:#fca5a5;--rc-notice:#3b2412;--rc-notice-fg:#fed7aa}
:host(.rc-floating){position:fixed;z-index:2147483000;bottom:20px;right:20px}
:host(.rc-floating[position=left]){right:auto;left:20px}
:host(.rc-inline){display:block;position:relative;min-height:320px;height:100%}
*,*::before,*::after{box-sizing:border-box}
button{font:inherit;color:inherit;cursor:pointer}
:focus-visible{outline:3px solid var(--rc-accent);outline-offset:2px}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.launcher{width:56px;height:56px;border-radius:50%;border:0;background:var(--rc-accent);color:var(--rc-accent-fg);display:grid;place-items:center;box-shadow:0 6px 20px rgba(0,0,0,.22);position:relative;transition:transform .15s}
.launcher:hover{transform:scale(1.05)}
.launcher:focus-visible{outline:3px solid var(--rc-fg);outline-offset:3px}
.launcher svg{width:28px;height:28px}
.badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;border:2px solid #fff}
.panel{position:absolute;bottom:72px;right:0;width:380px;height:min(640px,calc(100vh - 110px));background:var(--rc-bg);border-radius:var(--rc-radius);box-shadow:var(--rc-shadow);display:flex;flex-direction:column;overflow:hidden;border:1px solid var(--rc-border)}
:host(.rc-floating[position=left]) .panel{right:auto;left:0}
:host(.rc-inline) .panel{position:absolute;inset:0;width:auto;height:auto;box-shadow:none}
.header{background:var(--rc-accent);color:var(--rc-accent-fg);padding:14px 12px;display:flex;align-items:center;gap:8px;min-height:60px}
.header .avatar{background:rgba(0,0,0,.28);color:inherit}
.header h2{margin:0;font-size:16px;font-weight:650;flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.header .sub{display:flex;gap:8px;align-items:center;font-size:12px;font-weight:400;opacity:.9;overflow:hidden;white-space:nowrap}
.header .sub>span{unicode-bidi:isolate;overflow:hidden;text-overflow:ellipsis}
.header .sub>.presence{flex:none;display:inline-flex;align-items:center;gap:5px}
.header .sub>.presence:not(:last-child)::after{content:'·';margin-inline-start:3px}
.presence .dot{width:8px;height:8px;border-radius:50%;border:1.5px solid currentColor;flex:none}
.presence[data-online=true] .dot{background:#22c55e;border-color:#fff}
.icon-btn{background:transparent;border:0;width:36px;height:36px;border-radius:10px;display:grid;place-items:center;color:inherit;flex:none}
.icon-btn:hover{background:rgba(127,127,127,.18)}
.icon-btn svg{width:20px;height:20px}
.header .icon-btn:focus-visible{outline-color:var(--rc-accent-fg)}
[dir=rtl] .flip{transform:scaleX(-1)}
.banner{padding:8px 14px;font-size:13px;background:#fef3c7;color:#78350f;border-bottom:1px solid #fcd34d}
.banner.error{background:#fee2e2;color:#7f1d1d;border-color:#fca5a5}
.body{flex:1;overflow-y:auto;overscroll-behavior:contain;background:var(--rc-bg)}
.list{list-style:none;margin:0;padding:6px}
.conv{width:100%;display:flex;gap:12px;align-items:center;padding:12px;border:0;background:transparent;border-radius:12px;text-align:start}
.conv:hover{background:var(--rc-subtle)}
.avatar{width:40px;height:40px;border-radius:50%;background:var(--rc-accent);color:var(--rc-accent-fg);display:grid;place-items:center;font-weight:700;flex:none;font-size:15px}
.avatar.sm{width:28px;height:28px;font-size:12px}
.avatar.online{position:relative}
.avatar.online::after{content:'';position:absolute;bottom:0;inset-inline-end:0;width:11px;height:11px;border-radius:50%;background:#22c55e;border:2px solid var(--rc-bg)}
.conv-main{flex:1;min-width:0}
.conv-top{display:flex;justify-content:space-between;gap:8px}
.conv-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.conv-time{font-size:12px;color:var(--rc-muted);flex:none}
.conv-preview>span:first-child{overflow:hidden;text-overflow:ellipsis;unicode-bidi:isolate}
.conv-preview{color:var(--rc-muted);font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;display:flex;gap:8px;justify-content:space-between}
.pill{background:var(--rc-accent);color:var(--rc-accent-fg);border-radius:10px;padding:0 7px;font-size:12px;font-weight:700;flex:none}
.empty{padding:32px 24px;text-align:center;color:var(--rc-muted)}
.primary{background:var(--rc-accent);color:var(--rc-accent-fg);border:0;border-radius:12px;padding:10px 16px;font-weight:600}
.new-conv{margin:8px auto 16px;display:block}
.thread{padding:12px 12px 4px;display:flex;flex-direction:column;gap:2px}
.day{align-self:center;font-size:12px;color:var(--rc-muted);background:var(--rc-subtle);border-radius:10px;padding:2px 10px;margin:12px 0 8px}
.row{display:flex;gap:8px;align-items:flex-end;max-width:100%}
.row.mine{flex-direction:row-reverse}
.row .avatar{visibility:hidden}
.row.first .avatar{visibility:visible}
.stack{display:flex;flex-direction:column;max-width:78%;min-width:0}
.row.mine .stack{align-items:flex-end}
.sender{font-size:12px;color:var(--rc-muted);margin:8px 4px 2px}
.bubble{position:relative;padding:8px 12px;border-radius:18px;background:var(--rc-bubble-in);color:var(--rc-bubble-in-fg);white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;unicode-bidi:plaintext;text-align:start}
.row.mine .bubble{background:var(--rc-accent);color:var(--rc-accent-fg)}
.row.mine .bubble a{color:inherit}
.bubble a{color:var(--rc-accent);text-decoration:underline}
:host([data-theme=dark]) .row:not(.mine) .bubble a{color:#a5b4fc}
.row.failed .bubble{opacity:.75;outline:2px solid var(--rc-danger)}
.bubble.deleted{font-style:italic;background:transparent;border:1px dashed var(--rc-border);color:var(--rc-muted)}
.row.mine .bubble.deleted{background:transparent;color:var(--rc-muted)}
.msg{display:flex;flex-direction:column;margin-top:2px}
.row.mine .msg{align-items:flex-end}
.meta{font-size:11px;color:var(--rc-muted);margin:2px 6px 0;display:flex;gap:6px;align-items:center}
.meta svg{width:15px;height:15px}
.meta .read{color:var(--rc-accent)}
:host([data-theme=dark]) .meta .read{color:#a5b4fc}
.meta .failed{color:var(--rc-danger);font-weight:600}
.link-btn{background:none;border:0;padding:0;color:var(--rc-accent);text-decoration:underline;font-size:12px}
:host([data-theme=dark]) .link-btn{color:#a5b4fc}
.notice{font-size:12px;background:var(--rc-notice);color:var(--rc-notice-fg);border-radius:10px;padding:6px 10px;margin:4px 0 2px;max-width:100%}
.reactions{display:flex;gap:4px;flex-wrap:wrap;margin-top:3px}
.chip{border:1px solid var(--rc-border);background:var(--rc-bg);border-radius:12px;padding:1px 8px;font-size:12px}
.chip[aria-pressed=true]{border-color:var(--rc-accent);background:var(--rc-subtle)}
.actions{position:relative;display:flex;gap:2px;opacity:0;transition:opacity .1s;align-self:center}
.row:hover .actions,.row:focus-within .actions{opacity:1}
.actions .icon-btn{width:28px;height:28px;color:var(--rc-muted)}
.actions .icon-btn svg{width:16px;height:16px}
.popover{position:absolute;z-index:5;background:var(--rc-bg);border:1px solid var(--rc-border);border-radius:12px;box-shadow:0 8px 24px rgba(0,0,0,.18);padding:6px;display:flex;flex-wrap:wrap;gap:2px}
.reaction-pop{bottom:100%;inset-inline-end:0;margin-bottom:4px;width:max-content}
.menu{flex-direction:column;min-width:120px;bottom:100%;inset-inline-end:0;margin-bottom:4px}
.menu button{background:none;border:0;text-align:start;padding:6px 10px;border-radius:8px}
.menu button:hover{background:var(--rc-subtle)}
.emoji-btn{background:none;border:0;font-size:20px;width:36px;height:36px;border-radius:8px}
.emoji-btn:hover{background:var(--rc-subtle)}
.att-img{display:block;border:0;padding:0;background:none;border-radius:12px;overflow:hidden;margin-top:2px}
.att-img img{display:block;max-width:220px;max-height:220px;border-radius:12px}
.att-file{display:inline-flex;gap:6px;align-items:center;padding:8px 10px;border-radius:12px;background:var(--rc-subtle);color:var(--rc-fg);text-decoration:none;margin-top:2px}
.typing{font-size:12px;color:var(--rc-muted);padding:2px 16px 6px;min-height:22px;display:flex;gap:6px;align-items:center}
.dots{display:inline-flex;gap:3px}
.dots i{width:6px;height:6px;border-radius:50%;background:var(--rc-muted);animation:rc-bounce 1.2s infinite}
.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}
@keyframes rc-bounce{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-4px);opacity:1}}
@media (prefers-reduced-motion:reduce){.dots i{animation:none}.launcher,.actions{transition:none}}
.composer{border-top:1px solid var(--rc-border);padding:8px;display:flex;flex-direction:column;gap:6px;position:relative;background:var(--rc-bg)}
.composer-row{display:flex;align-items:flex-end;gap:4px}
.composer textarea{flex:1;resize:none;border:1px solid var(--rc-border);border-radius:12px;padding:9px 12px;font:inherit;color:var(--rc-fg);background:var(--rc-bg);max-height:140px;min-height:40px}
.composer textarea:focus{outline:2px solid var(--rc-accent);outline-offset:0;border-color:transparent}
.composer .icon-btn{color:var(--rc-muted)}
.send{background:var(--rc-accent);color:var(--rc-accent-fg)!important;border-radius:12px}
.send:disabled{opacity:.5;cursor:default}
.editing{font-size:12px;color:var(--rc-muted);display:flex;justify-content:space-between}
.emoji-pop{bottom:100%;inset-inline-start:8px;width:272px;margin-bottom:6px}
.previews{display:flex;gap:6px;flex-wrap:wrap}
.preview{position:relative;border:1px solid var(--rc-border);border-radius:10px;padding:4px;display:flex;align-items:center;gap:6px;font-size:12px;max-width:180px}
.preview img{width:48px;height:48px;object-fit:cover;border-radius:8px}
.preview .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.preview.error{border-color:var(--rc-danger);color:var(--rc-danger)}
.drop{position:absolute;inset:0;background:rgba(79,70,229,.12);border:3px dashed var(--rc-accent);border-radius:var(--rc-radius);display:grid;place-items:center;font-weight:600;z-index:10;pointer-events:none;color:var(--rc-fg)}
.powered{text-align:center;font-size:11px;color:var(--rc-muted);padding:4px 0 8px;background:var(--rc-bg)}
.powered a{color:inherit}
.lightbox{position:absolute;inset:0;background:rgba(0,0,0,.85);display:grid;place-items:center;z-index:20}
.lightbox img{max-width:94%;max-height:86%;border-radius:8px}
.lightbox .icon-btn{position:absolute;top:10px;inset-inline-end:10px;color:#fff}
.older{display:block;margin:8px auto}
@media (max-width:480px){
:host(.rc-floating[data-open]){inset:0;bottom:0;right:0;left:0}
:host(.rc-floating[data-open]) .panel{position:fixed;inset:0;width:100vw;height:100vh;height:100dvh;border-radius:0;border:0}
:host(.rc-floating[data-open]) .launcher{display:none}
}
`;
