/*! faqbot widget: an embeddable FAQ chat bubble. MIT licence. No dependencies, no build step.
 *
 * Embed:  <script src="https://HOST/widget/faqbot.js" data-server="wss://HOST/ws" defer></script>
 * Options are data-attributes on that tag (see widget/README.md). One global at most: window.Faqbot.
 *
 * Safety rules this file keeps: no HTML parsing of any string, no eval, no inline handlers (so it works
 * under a strict CSP); server and visitor text reaches the page only through textContent and attributes.
 */
(function () {
  "use strict";

  var VERSION = "1.3.0";
  var HOST_TAG = "faqbot-widget";
  var STORE_PREFIX = "faqbot:v1:";
  var MAX_STORED = 120; // transcript entries kept in sessionStorage
  var MAX_TEXT = 2000; // the server's default limit; longer text is refused with too_long
  var BACKOFF = { base: 500, factor: 2, max: 15000 };
  var REPLY_TYPES = ["answer", "clarify", "fallback", "smalltalk", "crisis", "referral", "gap", "concern", "callback"];
  var VOTED_TYPES = ["answer", "fallback", "referral", "gap", "concern"];
  var REPLY_TIMEOUT = 20000; // ms without a reply before the typing dots give way to "Try again"
  var PROBE_LINGER = 30000; // ms the first, unopened connection stays up before it is closed quietly
  var SLOW_WARN_AFTER = 3; // failed attempts before the console says the server cannot be reached
  var PHONE_MAX = 480; // px: at or under this width the panel is full screen and modal

  // Loaded twice (two tags, or a tag plus a bundler copy): the first instance wins, the second does nothing.
  if ((window.Faqbot && window.Faqbot.__faqbot) || document.querySelector(HOST_TAG)) return;

  var script = document.currentScript || findScriptTag();

  function findScriptTag() {
    var tags = document.querySelectorAll('script[src*="faqbot"]');
    return tags.length ? tags[tags.length - 1] : null;
  }

  // ---------------------------------------------------------------------------------------- strings
  var STRINGS_EN = {
    title: "Questions? Ask us",
    open: "Open chat",
    close: "Close chat",
    placeholder: "Type your question\u2026",
    inputLabel: "Your question",
    send: "Send",
    you: "You",
    bot: "Assistant",
    typing: "The assistant is typing\u2026",
    connecting: "Connecting\u2026",
    reconnecting: "Reconnecting\u2026",
    retryNow: "Retry now",
    queued: "Not sent yet: it will be sent when the connection is back.",
    failed: "Not delivered.",
    noReply: "No answer yet.",
    retry: "Try again",
    resend: "Send again",
    greeting: "Hello! Ask us a question.",
    offlineTitle: "The assistant can't be reached right now.",
    offlineCrisis: "In a crisis, call or text 988. In an emergency, call 911.",
    unavailable: "The chat is not available on this page.",
    region: "Chat",
    textLink: "Text",
    textLabel: "Text {n}",
    helpful: "Helpful",
    notHelpful: "Not helpful",
    feedbackThanks: "Thanks for your feedback.",
    suggestions: "Suggested questions",
    callbackTitle: "Request a callback",
    callbackCancel: "Cancel",
    callbackRequired: "(required)",
    callbackFix: "Please correct the fields marked below.",
    options: "Did you mean",
    crisisTitle: "Get help now",
    bannerTitle: "Crisis support, any time",
    bannerHide: "Hide",
    bannerShow: "Show",
    bannerToggle: "crisis numbers",
    bannerAnnounce: "The crisis numbers now stay at the top of this chat.",
    newTab: "(opens in a new tab)",
    unread: "New reply",
    unreadMany: "{n} new replies",
    errors: {
      rate_limited: "You are sending messages very fast. Please wait a moment and try again.",
      too_long: "That message is too long. Please shorten it.",
      unknown_entry: "Sorry, that question is no longer available. Please type it instead.",
      forbidden_origin: "The chat is not available on this website.",
      too_many_connections: "The chat is very busy right now. Retrying\u2026",
      internal: "Sorry, something went wrong on our side. Please try again.",
      generic: "Sorry, something went wrong. Please try again."
    }
  };

  function mergeStrings(base, extra) {
    var out = {};
    var k;
    for (k in base) if (Object.prototype.hasOwnProperty.call(base, k)) out[k] = base[k];
    if (!extra || typeof extra !== "object") return out;
    for (k in extra) {
      if (!Object.prototype.hasOwnProperty.call(extra, k) || !Object.prototype.hasOwnProperty.call(base, k)) continue;
      if (typeof base[k] === "object") out[k] = mergeStrings(base[k], extra[k]);
      else if (typeof extra[k] === "string") out[k] = extra[k];
    }
    return out;
  }

  // window.FaqbotStrings may be flat ({send: "Enviar"}) or per language ({es: {send: "Enviar"}});
  // data-strings (JSON) is applied last so one tag can carry everything.
  function loadStrings(lang, dataStrings) {
    var strings = STRINGS_EN;
    var global = window.FaqbotStrings;
    if (global && typeof global === "object") {
      var short = (lang || "").split("-")[0];
      var forLang = global[lang] || global[short];
      strings = mergeStrings(strings, forLang && typeof forLang === "object" ? forLang : global);
    }
    if (dataStrings) {
      try {
        strings = mergeStrings(strings, JSON.parse(dataStrings));
      } catch (e) {
        warn("data-strings is not valid JSON; using the built-in strings");
      }
    }
    return strings;
  }

  function warn(msg) {
    if (window.console && console.warn) console.warn("faqbot: " + msg);
  }

  // ------------------------------------------------------------------------------------------ config
  function readConfig(tag) {
    var d = (tag && tag.dataset) || {};
    var lang = d.lang || document.documentElement.lang || "en";
    var position = d.position === "bottom-left" ? "bottom-left" : "bottom-right";
    if (d.position && d.position !== position) warn("data-position must be bottom-right or bottom-left");
    var theme = d.theme === "light" || d.theme === "dark" ? d.theme : "auto";
    if (d.theme && d.theme !== theme) warn("data-theme must be light, dark or auto");
    var timeout = d.replyTimeout ? Number(d.replyTimeout) : REPLY_TIMEOUT;
    if (!(timeout >= 1000)) {
      warn("data-reply-timeout must be a number of milliseconds, at least 1000; using " + REPLY_TIMEOUT);
      timeout = REPLY_TIMEOUT;
    }
    var strings = loadStrings(lang, d.strings);
    return {
      server: serverUrl(tag, d.server),
      title: d.title || "",
      greeting: d.greeting || "",
      // Shown when the server cannot be reached: the clinic's own lines, and a crisis line unless turned off.
      contact: d.contact || "",
      crisis: d.crisis !== undefined ? d.crisis : strings.offlineCrisis,
      color: d.color || "",
      position: position,
      theme: theme,
      replyTimeout: timeout,
      // On a phone the open panel covers the whole page, so data-open waits for a tap unless it says "always".
      open: d.open !== undefined && d.open !== "false" && d.open !== "0",
      openOnPhones: d.open === "always",
      lang: lang,
      strings: strings
    };
  }

  // With no data-server, the websocket lives next to the script: https://h/widget/faqbot.js -> wss://h/ws.
  function serverUrl(tag, explicit) {
    var base = tag && tag.src ? tag.src : location.href;
    var url;
    try {
      url = new URL(explicit || "/ws", base);
    } catch (e) {
      console.error("faqbot: data-server=\"" + explicit + "\" is not a URL. Set it to the server's websocket " +
        "address, e.g. data-server=\"wss://chat.example.org/ws\"; trying /ws on this page's host instead.");
      url = new URL("/ws", location.href);
    }
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      console.error("faqbot: data-server must be a ws://, wss://, http:// or https:// address, not \"" + explicit +
        "\". Set it to the server's websocket address, e.g. data-server=\"wss://chat.example.org/ws\".");
    }
    url.hash = "";
    return url.toString();
  }

  // ------------------------------------------------------------------------------------------ colour
  // A custom brand colour must not break AA contrast: text on it is black or white, whichever reads
  // better, and where it is used as ink on the panel it is darkened (light) or lightened (dark) to 4.5:1.
  function parseHex(c) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((c || "").trim());
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  }

  function toHex(rgb) {
    return "#" + rgb.map(function (v) {
      var s = Math.round(Math.max(0, Math.min(255, v))).toString(16);
      return s.length === 1 ? "0" + s : s;
    }).join("");
  }

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function inkFor(color, background, toward) {
    for (var t = 0; t <= 1.0001; t += 0.04) {
      var c = color.map(function (v, i) { return v + (toward[i] - v) * t; });
      if (contrast(c, background) >= 4.6) return toHex(c);
    }
    return toHex(toward);
  }

  var LIGHT_BG = [255, 255, 255], DARK_BG = [24, 26, 30], WHITE = [255, 255, 255], BLACK = [0, 0, 0];

  function palette(color) {
    var rgb = parseHex(color);
    if (color && !rgb) warn("data-color must be a hex colour like #0b5d6b");
    rgb = rgb || [11, 93, 107];
    var onPrimary = contrast(rgb, WHITE) >= contrast(rgb, [17, 17, 17]) ? "#ffffff" : "#111111";
    return {
      "--fb-primary": toHex(rgb),
      "--fb-on-primary": onPrimary,
      "--fb-ink-light": inkFor(rgb, [241, 243, 245], BLACK), // on the bot bubble, the lightest-but-one surface
      "--fb-ink-dark": inkFor(rgb, [40, 44, 50], WHITE)
    };
  }

  // -------------------------------------------------------------------------------------------- CSS
  var DARK = "--fb-bg:#181a1e;--fb-surface:#282c32;--fb-text:#eceef1;--fb-muted:#b4bbc4;--fb-border:#4a5058;" +
    "--fb-ink:var(--fb-ink-dark);--fb-crisis-bg:#3b1412;--fb-crisis-text:#ffe3e0;--fb-crisis-edge:#ff8a80;" +
    "--fb-warn-bg:#3d3214;--fb-warn-text:#fff0c2";
  var CSS = [
    ":host{all:initial}",
    ".fb{--fb-bg:#fff;--fb-surface:#f1f3f5;--fb-text:#1a1d21;--fb-muted:#4f5761;--fb-border:#c9ced4;",
    "--fb-ink:var(--fb-ink-light);--fb-crisis-bg:#fff0ef;--fb-crisis-text:#5c0f0a;--fb-crisis-edge:#b3261e;",
    "--fb-warn-bg:#fff4d6;--fb-warn-text:#4a3500;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:var(--fb-text);",
    "-webkit-font-smoothing:antialiased;text-align:left;letter-spacing:normal;}",
    // data-theme: dark always, or (auto) when the visitor's system is dark.
    ".fb.dark{" + DARK + "}",
    "@media (prefers-color-scheme:dark){.fb.auto{" + DARK + "}}",
    ".fb *,.fb *::before,.fb *::after{box-sizing:border-box}",
    ".fb [hidden]{display:none!important}",
    ".sr{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}",
    "button{font:inherit;color:inherit;cursor:pointer}",
    ".fb :focus-visible{outline:3px solid var(--fb-ink);outline-offset:2px}",
    // Launcher and panel keep clear of a phone's rounded corners and home bar (env() is 0 elsewhere).
    ".launcher{position:fixed;bottom:calc(20px + env(safe-area-inset-bottom,0px));right:calc(20px + env(safe-area-inset-right,0px));",
    "z-index:2147483000;width:60px;height:60px;border-radius:50%;",
    "border:0;background:var(--fb-primary);color:var(--fb-on-primary);box-shadow:0 4px 14px rgba(0,0,0,.28);",
    "display:flex;align-items:center;justify-content:center;padding:0;transition:transform .15s}",
    ".launcher:hover{transform:scale(1.05)}",
    ".launcher:focus-visible{outline:3px solid var(--fb-primary);outline-offset:3px;box-shadow:0 0 0 3px #fff,0 4px 14px rgba(0,0,0,.28)}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".dot{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 5px;border-radius:11px;background:#b3261e;",
    "color:#fff;border:2px solid #fff;font-size:12px;font-weight:700;line-height:18px;text-align:center}",
    ".left .launcher{right:auto;left:calc(20px + env(safe-area-inset-left,0px))}",
    ".panel{position:fixed;bottom:92px;right:20px;z-index:2147483001;width:380px;max-width:calc(100vw - 40px);",
    "height:600px;max-height:calc(100vh - 120px);display:flex;flex-direction:column;background:var(--fb-bg);",
    "border:1px solid var(--fb-border);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden}",
    ".left .panel{right:auto;left:20px}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:var(--fb-primary);color:var(--fb-on-primary)}",
    ".head h2{flex:1;min-width:0;margin:0;font-size:16px;font-weight:600;line-height:1.3;overflow-wrap:anywhere}",
    ".close{flex:none;border:0;background:transparent;color:inherit;width:44px;height:44px;border-radius:8px;display:flex;align-items:center;justify-content:center;padding:0}",
    ".close:hover{background:rgba(127,127,127,.25)}",
    ".close:focus-visible{outline:3px solid var(--fb-on-primary);outline-offset:-3px}",
    ".close svg{width:20px;height:20px;fill:currentColor}",
    ".status{display:flex;align-items:center;gap:8px;padding:6px 16px;background:var(--fb-warn-bg);color:var(--fb-warn-text);font-size:13px}",
    ".status span{flex:1}",
    ".status button,.meta button,.note button{border:1px solid currentColor;background:transparent;border-radius:6px;padding:2px 8px;font-size:13px;min-height:28px}",
    ".scroll{position:relative;flex:1;overflow-y:auto;overflow-x:hidden;padding:14px 14px 6px;overscroll-behavior:contain}",
    ".log,.log>ol{list-style:none;margin:0;padding:0}",
    ".log>ol{display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:88%;padding:9px 12px;border-radius:14px;word-wrap:break-word;overflow-wrap:anywhere}",
    ".msg.user{align-self:flex-end;background:var(--fb-primary);color:var(--fb-on-primary);border-bottom-right-radius:4px;white-space:pre-wrap}",
    ".msg.bot{align-self:flex-start;background:var(--fb-surface);border-bottom-left-radius:4px}",
    ".msg.note{align-self:center;background:transparent;color:var(--fb-muted);font-size:13px;text-align:center;padding:2px 8px}",
    ".msg.crisis,.offline{max-width:100%;align-self:stretch;background:var(--fb-crisis-bg);color:var(--fb-crisis-text);",
    "border:2px solid var(--fb-crisis-edge);border-left-width:6px;border-radius:10px}",
    ".offline{padding:9px 12px;margin:0 0 10px;overflow-wrap:anywhere}",
    ".offline .lines{margin-top:6px}",
    ".crisis-title{display:flex;align-items:center;gap:6px;font-weight:700;margin:0 0 4px}",
    ".crisis-title svg{width:18px;height:18px;fill:currentColor;flex:none}",
    ".msg p,.offline p{margin:0 0 8px}.msg p:last-child,.offline p:last-child{margin-bottom:0}",
    ".msg ul,.msg ol,.offline ul{margin:0 0 8px;padding-left:20px}.msg ul{list-style:disc}.msg ul:last-child,.msg ol:last-child{margin-bottom:0}",
    ".msg li{margin:2px 0}",
    ".msg a{color:var(--fb-ink);text-decoration:underline;text-underline-offset:2px}",
    // In a crisis every number is a 44x44 px touch target (WCAG 2.5.5), not a thin underlined word.
    ".msg.crisis a,.offline a,.banner a,.concern-note a{color:inherit;display:inline-flex;align-items:center;justify-content:center;min-width:44px;",
    "min-height:44px;padding:0 10px;margin:2px 0;border:2px solid currentColor;border-radius:10px;font-weight:700;",
    "text-decoration:none;vertical-align:middle}",
    // After a crisis reply: pinned under the title bar for the rest of the conversation, collapsible.
    ".banner{flex:none;padding:8px 12px;background:var(--fb-crisis-bg);color:var(--fb-crisis-text);",
    "border-bottom:2px solid var(--fb-crisis-edge);border-left:6px solid var(--fb-crisis-edge);overflow-wrap:anywhere}",
    ".banner .bar{display:flex;align-items:center;gap:8px}",
    ".banner h3{flex:1;min-width:0;margin:0;font-size:14px;line-height:1.3}",
    ".banner .toggle{flex:none;border:1px solid currentColor;background:transparent;color:inherit;border-radius:8px;",
    "min-width:44px;min-height:44px;padding:0 10px;font-size:13px}",
    ".banner .lines{margin-top:4px}.banner p{margin:0}",
    // A concern reply's first paragraph: the crisis line, marked but not an alert.
    ".concern-note{display:flex;gap:8px;align-items:flex-start;margin:0 0 10px;padding:8px 10px;border-radius:8px;",
    "background:var(--fb-crisis-bg);color:var(--fb-crisis-text);border-left:4px solid var(--fb-crisis-edge)}",
    ".concern-note svg{width:18px;height:18px;fill:currentColor;flex:none;margin-top:2px}",
    ".concern-note .text{flex:1;min-width:0}",
    ".meta{font-size:12px;color:var(--fb-muted);margin-top:4px;white-space:normal;display:flex;flex-wrap:wrap;align-items:center;gap:6px}",
    ".user .meta{color:inherit;opacity:.95}",
    ".stamp{display:block;font-size:11.5px;color:var(--fb-muted);margin-top:3px}.user .stamp{color:inherit;text-align:right}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 0;padding:0;list-style:none}",
    ".msg .chips{margin:8px 0 0;padding:0;list-style:none}.msg .chips li{margin:0}",
    ".chip{border:1.5px solid var(--fb-ink);background:var(--fb-bg);color:var(--fb-ink);border-radius:16px;",
    "padding:5px 11px;font-size:13.5px;line-height:1.3;text-align:left;max-width:100%;overflow-wrap:anywhere}",
    ".chip:hover{background:var(--fb-surface)}",
    ".chips-label{font-size:12px;color:var(--fb-muted);margin:10px 0 0}",
    ".votes{display:flex;align-items:center;gap:4px;margin-top:6px}",
    ".vote{border:1px solid var(--fb-border);background:var(--fb-bg);border-radius:8px;width:32px;height:28px;",
    "display:flex;align-items:center;justify-content:center;padding:0;color:var(--fb-muted)}",
    ".vote svg{width:16px;height:16px;fill:currentColor}",
    ".vote[aria-pressed=true]{background:var(--fb-primary);color:var(--fb-on-primary);border-color:var(--fb-primary)}",
    ".votes .thanks{font-size:12px;color:var(--fb-muted);margin-left:4px}",
    ".typing{display:flex;gap:4px;align-items:center;padding:10px 14px;margin:10px 0 4px;background:var(--fb-surface);",
    "border-radius:14px;width:max-content}",
    ".typing i{width:7px;height:7px;border-radius:50%;background:var(--fb-muted);animation:fb-bounce 1.2s infinite}",
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}",
    "@keyframes fb-bounce{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-4px);opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing i{animation:none}.launcher{transition:none}}",
    "form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--fb-border);background:var(--fb-bg)}",
    "input{flex:1;min-width:0;font:inherit;font-size:16px;color:var(--fb-text);background:var(--fb-bg);",
    "border:1.5px solid var(--fb-border);border-radius:10px;padding:9px 12px}",
    "input::placeholder{color:var(--fb-muted);opacity:1}",
    "input:focus-visible{outline:3px solid var(--fb-ink);outline-offset:0;border-color:var(--fb-ink)}",
    ".send{flex:none;border:0;border-radius:10px;background:var(--fb-primary);color:var(--fb-on-primary);width:44px;min-height:44px;",
    "display:flex;align-items:center;justify-content:center;padding:0}",
    ".send svg{width:20px;height:20px;fill:currentColor}",
    "input:disabled,.send:disabled{opacity:.6;cursor:not-allowed}",
    // Phones (the class is set from the viewport, with or without a viewport meta): full screen, both positions.
    ".fb.phone .panel{top:0;right:0;bottom:0;left:0;width:100%;max-width:none;height:100%;max-height:none;border:0;border-radius:0}",
    ".fb.phone.open .launcher{display:none}",
    ".fb.phone .head{padding-top:max(12px,env(safe-area-inset-top,0px));padding-left:max(16px,env(safe-area-inset-left,0px));",
    "padding-right:max(12px,env(safe-area-inset-right,0px))}",
    ".fb.phone .scroll{padding-left:max(14px,env(safe-area-inset-left,0px));padding-right:max(14px,env(safe-area-inset-right,0px))}",
    ".fb.phone form{padding-bottom:max(10px,env(safe-area-inset-bottom,0px));padding-left:max(12px,env(safe-area-inset-left,0px));",
    "padding-right:max(12px,env(safe-area-inset-right,0px))}",
    // Windows High Contrast and other forced colours drop backgrounds: borders keep every control visible.
    "@media (forced-colors:active){.launcher,.send,.close,.chip,.vote{border:2px solid ButtonText}",
    ".panel,.msg,.offline,.typing,.banner,.concern-note{border:1px solid CanvasText}.head{border-bottom:1px solid CanvasText}",
    ".dot{forced-color-adjust:none;background:Mark;color:MarkText;border-color:Canvas}",
    ".typing i{forced-color-adjust:none;background:CanvasText}.vote[aria-pressed=true]{border-color:Highlight;color:Highlight}",
    ".fb :focus-visible{outline-color:Highlight}}",
    ".fb form.cb,.fb.phone form.cb{display:block;margin:8px 0;padding:12px;border:1.5px solid var(--fb-border);border-radius:10px;background:var(--fb-surface)}",
    ".cb h3{margin:0 0 8px;font-size:16px}.cb-field{margin:0 0 10px}.cb-field label{display:block;font-weight:600;margin:0 0 4px}",
    ".cb input[type=text],.cb textarea{box-sizing:border-box;width:100%;min-height:44px;font:inherit;font-size:16px;color:var(--fb-text);",
    "background:var(--fb-bg);border:1.5px solid var(--fb-border);border-radius:8px;padding:9px 12px}",
    ".cb textarea{min-height:72px;resize:vertical}.cb [aria-invalid=true]{border-color:var(--fb-crisis-edge)}",
    ".cb-err{margin:4px 0 0;color:var(--fb-crisis-text);font-size:14px}",
    ".cb-consent{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;margin:0 0 10px}.cb-consent input{width:24px;height:24px;margin:0}",
    ".cb-consent label{flex:1}.cb-consent .cb-err{flex-basis:100%}",
    ".cb-actions{display:flex;gap:8px}.cb-actions button{min-height:44px;padding:0 16px;border-radius:10px;font:inherit;cursor:pointer}",
    ".cb-send{border:0;background:var(--fb-primary);color:var(--fb-on-primary)}",
    ".cb-cancel{border:1.5px solid var(--fb-border);background:var(--fb-bg);color:var(--fb-text)}",
    ".cb :focus-visible{outline:3px solid var(--fb-ink);outline-offset:1px}",
    ".cb-trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
  ].join("\n");

  // ------------------------------------------------------------------------------------------- icons
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 " +
      "3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z",
    close: "M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z",
    send: "M3 20.5V14l9-2-9-2V3.5L22 12z",
    up: "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 " +
      "9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z",
    down: "M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 " +
      "0 0 0-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z",
    alert: "M1 21h22L12 2 1 21zm12-3h-2v-2h2v2zm0-4h-2v-4h2v4z",
    heart: "M12 21.4l-1.5-1.3C5.4 15.4 2 12.3 2 8.5 2 5.4 4.4 3 7.5 3c1.7 0 3.4.8 4.5 2.1C13.1 3.8 14.8 3 16.5 3 " +
      "19.6 3 22 5.4 22 8.5c0 3.8-3.4 6.9-8.5 11.5L12 21.4z"
  };

  function icon(name) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null || attrs[k] === false) continue;
        if (k === "text") node.textContent = attrs[k];
        else if (k === "class") node.className = attrs[k];
        else node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
      }
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  // ---------------------------------------------------------------------------------------- markdown
  // The reply subset: paragraphs (blank line), "- " lists, **bold**, [text](https://...). Phone numbers
  // and e-mail addresses become tap-to-call / text / mail links. Everything is built as DOM nodes.
  var LINK_MD = /\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:|tel:|sms:)[^\s)]+)\)/g;
  var AUTO = new RegExp([
    "(https?:\\/\\/[^\\s<>()\"]+)", // 1 bare URL
    "([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})", // 2 e-mail
    "((?:\\+?1[-.\\s]?)?(?:\\(\\d{3}\\)\\s?|\\b\\d{3}[-.\\s])\\d{3}[-.\\s]\\d{4}\\b)", // 3 US phone
    "\\b(911|988)\\b" // 4 short emergency numbers, linked only after "call"/"text"/"dial"
  ].join("|"), "g");

  function renderMarkdown(text, strings) {
    var frag = document.createDocumentFragment();
    var blocks = String(text || "").replace(/\r\n?/g, "\n").split(/\n\s*\n/);
    blocks.forEach(function (block) {
      var lines = block.split("\n");
      var para = null, list = null;
      lines.forEach(function (line) {
        var bullet = /^\s*[-*]\s+(.*)$/.exec(line);
        var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
        if (bullet || numbered) {
          var kind = bullet ? "ul" : "ol";
          if (!list || list.tagName.toLowerCase() !== kind) {
            list = el(kind);
            frag.appendChild(list);
          }
          para = null;
          var li = el("li");
          inline((bullet || numbered)[1], li, strings);
          list.appendChild(li);
        } else if (line.trim()) {
          list = null;
          if (para) para.appendChild(el("br"));
          else {
            para = el("p");
            frag.appendChild(para);
          }
          inline(line.trim(), para, strings);
        }
      });
    });
    return frag;
  }

  function inline(text, parent, strings) {
    // Markdown links first, then bold, then automatic links inside the remaining text. `context` is the
    // line's plain text so far, so "Text (206) 589-5958" knows it follows the word "text".
    var plainSoFar = "";
    var parts = splitLinks(text);
    parts.forEach(function (part) {
      if (part.href) {
        parent.appendChild(link(part.href, part.text, strings));
        plainSoFar += part.text;
        return;
      }
      splitBold(part.text).forEach(function (piece) {
        var target = parent;
        if (piece.bold) {
          target = el("strong");
          parent.appendChild(target);
        }
        autolink(piece.text, target, plainSoFar, strings);
        plainSoFar += piece.text;
      });
    });
  }

  function splitLinks(text) {
    var out = [], last = 0, m;
    LINK_MD.lastIndex = 0;
    while ((m = LINK_MD.exec(text))) {
      if (m.index > last) out.push({ text: text.slice(last, m.index) });
      out.push({ text: m[1], href: m[2] });
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push({ text: text.slice(last) });
    return out;
  }

  function splitBold(text) {
    var out = [], re = /\*\*([^*]+?)\*\*/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push({ text: text.slice(last, m.index) });
      out.push({ text: m[1], bold: true });
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push({ text: text.slice(last) });
    return out;
  }

  function autolink(text, parent, context, strings) {
    var last = 0, m;
    AUTO.lastIndex = 0;
    while ((m = AUTO.exec(text))) {
      var before = context + text.slice(0, m.index);
      var href = null, shown = m[0];
      if (m[1]) {
        shown = m[1].replace(/[.,;:!?]+$/, "");
        href = shown;
      } else if (m[2]) {
        href = "mailto:" + m[2];
      } else if (m[3]) {
        href = phoneScheme(before) + dialable(m[3]);
      } else if (m[4] && /\b(call|text|dial|sms)\b[^.\d]{0,12}$/i.test(before)) {
        href = phoneScheme(before) + m[4];
      }
      if (!href) continue;
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      parent.appendChild(link(href, shown, strings));
      if (href.indexOf("tel:") === 0 && /\b(call or text|text or call)\b[^.\d]{0,12}$/i.test(before)) {
        // "Call or text 988": the number calls, and a link beside it opens a text message to it.
        var sms = link("sms:" + href.slice(4), strings.textLink, strings);
        sms.setAttribute("aria-label", strings.textLabel.replace("{n}", shown));
        parent.appendChild(document.createTextNode(" "));
        parent.appendChild(sms);
      }
      last = m.index + shown.length;
      AUTO.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // "Text (206) 589-5958" is an SMS number; "Call or text 988" is a call (a call always works).
  function phoneScheme(before) {
    var tail = before.slice(-24);
    return /\b(text|txt|sms)\b[^\d]*$/i.test(tail) && !/\bcall\b/i.test(tail) ? "sms:" : "tel:";
  }

  function dialable(number) {
    var digits = number.replace(/\D/g, "");
    if (digits.length === 10) return "+1" + digits;
    if (digits.length === 11 && digits.charAt(0) === "1") return "+" + digits;
    return digits;
  }

  function link(href, text, strings) {
    var a = el("a", { href: href, text: text });
    if (/^https?:/i.test(href)) {
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
      a.appendChild(el("span", { class: "sr", text: " " + strings.newTab }));
    }
    return a;
  }

  // --------------------------------------------------------------------------------------- storage
  function Store(key) {
    this.key = STORE_PREFIX + key;
  }

  Store.prototype.load = function () {
    try {
      var raw = window.sessionStorage.getItem(this.key);
      var data = raw ? JSON.parse(raw) : null;
      if (data && typeof data === "object" && Array.isArray(data.messages)) return data;
    } catch (e) { /* storage blocked or corrupt: start fresh */ }
    return { session: null, secret: null, seq: 0, open: false, welcome: null, unread: 0, messages: [] };
  };

  // Not personal, so kept across visits (localStorage): the last greeting, shown even when the server is down.
  Store.prototype.loadWelcome = function () {
    try {
      var w = JSON.parse(window.localStorage.getItem(this.key + ":welcome") || "null");
      return w && typeof w === "object" && typeof w.greeting === "string" ? w : null;
    } catch (e) {
      return null;
    }
  };

  Store.prototype.saveWelcome = function (welcome) {
    try { window.localStorage.setItem(this.key + ":welcome", JSON.stringify(welcome)); } catch (e) { /* blocked */ }
  };

  Store.prototype.save = function (data) {
    try {
      data.messages = data.messages.slice(-MAX_STORED);
      window.sessionStorage.setItem(this.key, JSON.stringify(data));
    } catch (e) { /* private mode or full: the chat still works, it just won't survive a reload */ }
  };

  // ------------------------------------------------------------------------------------ connection
  // Named states and the only transitions between them:
  //   idle -> connecting -> ready -> (socket lost) -> waiting -> connecting ...
  //   ready -> idle          when the server closes an idle session, or the unopened first connection rests
  //   any -> stopped         on a fatal error (forbidden origin, blocked by CSP) or destroy()
  var CONN = { IDLE: "idle", CONNECTING: "connecting", READY: "ready", WAITING: "waiting", STOPPED: "stopped" };

  function Connection(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.state = CONN.IDLE;
    this.ws = null;
    this.attempt = 0;
    this.failures = 0; // attempts in a row that never reached "welcome"
    this.timer = null;
    this.idleClosed = false;
    this.reason = ""; // why it stopped: "refused", "csp" or "destroyed"
  }

  Connection.prototype.setState = function (state) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.state(state, this.attempt);
  };

  Connection.prototype.connect = function () {
    if (this.state === CONN.CONNECTING || this.state === CONN.READY || this.state === CONN.STOPPED) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.idleClosed = false;
    var url = this.url;
    var session = this.handlers.session();
    var secret = this.handlers.secret();
    // The id names the conversation, the secret opens it: without both the server starts a fresh one.
    if (session && secret) {
      url += (url.indexOf("?") < 0 ? "?" : "&") + "session=" + encodeURIComponent(session) +
        "&secret=" + encodeURIComponent(secret);
    }
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      // Chromium throws SecurityError when the page's CSP connect-src refuses the address.
      if (e && e.name === "SecurityError") {
        this.stop("csp");
        return;
      }
      this.setState(CONN.CONNECTING);
      this.lost();
      return;
    }
    this.ws = ws;
    this.setState(CONN.CONNECTING);
    var self = this;
    ws.onmessage = function (ev) {
      if (self.ws !== ws) return;
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "welcome" || frame.type === "resumed") {
        self.attempt = 0;
        self.failures = 0;
        self.setState(CONN.READY);
      }
      if (frame.type === "error" && frame.code === "idle_timeout") self.idleClosed = true;
      if (frame.type === "error" && frame.code === "forbidden_origin") self.stop("refused");
      self.handlers.frame(frame);
    };
    ws.onclose = function () {
      if (self.ws !== ws) return;
      self.ws = null;
      if (self.state === CONN.STOPPED) return;
      if (self.idleClosed) self.setState(CONN.IDLE);
      else self.lost();
    };
    ws.onerror = function () { /* onclose follows and decides */ };
  };

  Connection.prototype.lost = function () {
    if (this.state === CONN.CONNECTING) this.failures += 1;
    // Exponential backoff with full jitter, so a restarted server is not hit by every visitor at once.
    var ceiling = Math.min(BACKOFF.max, BACKOFF.base * Math.pow(BACKOFF.factor, this.attempt));
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    this.attempt += 1;
    var self = this;
    this.timer = setTimeout(function () {
      self.timer = null;
      if (self.state === CONN.WAITING) {
        self.state = CONN.IDLE;
        self.connect();
      }
    }, delay);
    this.setState(CONN.WAITING);
    if (this.failures > 0) this.handlers.failed(this.failures);
  };

  Connection.prototype.retryNow = function () {
    if (this.state !== CONN.WAITING) return;
    clearTimeout(this.timer);
    this.state = CONN.IDLE;
    this.connect();
  };

  Connection.prototype.send = function (frame) {
    if (this.state !== CONN.READY || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  };

  // Close quietly; the next message or open() connects again.
  Connection.prototype.rest = function () {
    if (this.state !== CONN.READY || !this.ws) return;
    this.idleClosed = true;
    try { this.ws.close(1000); } catch (e) { /* already closing */ }
  };

  // A failed attempt nobody is waiting on: stop the retry loop until the next connect().
  Connection.prototype.pause = function () {
    if (this.state !== CONN.WAITING) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.setState(CONN.IDLE);
  };

  Connection.prototype.stop = function (reason) {
    clearTimeout(this.timer);
    this.reason = reason || "destroyed";
    this.setState(CONN.STOPPED);
    if (this.ws) {
      var ws = this.ws;
      this.ws = null;
      try { ws.close(1000); } catch (e) { /* already closing */ }
    }
  };

  // ----------------------------------------------------------------------------------------- widget
  function Widget(config) {
    this.config = config;
    this.s = config.strings;
    this.store = new Store(config.server);
    this.data = this.store.load();
    this.data.welcome = this.data.welcome || this.store.loadWelcome();
    this.nodes = {}; // message id -> element
    this.listeners = [];
    this.inerted = []; // page elements this widget made inert while the phone panel is open
    this.replyTimer = null;
    this.lingerTimer = null;
    var self = this;
    this.conn = new Connection(config.server, {
      session: function () { return self.data.session; },
      secret: function () { return self.data.secret; },
      state: function (state) { self.onState(state); },
      frame: function (frame) { self.onFrame(frame); },
      failed: function (n) { self.onFailed(n); }
    });
    this.build();
    this.watchPhone();
    this.restore();
    if (this.data.refused) {
      this.remembered = true;
      this.conn.stop("refused");
      return;
    }
    if (this.data.open || (config.open && (!this.phone || config.openOnPhones))) this.open({ focus: false });
    else if (!this.data.originOk) this.probe();
  }

  Widget.prototype.listen = function (target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push([target, type, fn, options]);
  };

  Widget.prototype.build = function () {
    var s = this.s, cfg = this.config, self = this;
    var host = document.createElement(HOST_TAG);
    host.setAttribute("data-faqbot", VERSION);
    // Page CSS can still style the host element itself; these declarations win over any selector.
    host.style.setProperty("all", "initial", "important");
    host.style.setProperty("display", "block", "important");
    var root = host.attachShadow({ mode: "open" });
    this.host = host;
    this.root = root;

    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } catch (e) {
        root.appendChild(el("style", { text: CSS }));
      }
    } else {
      root.appendChild(el("style", { text: CSS }));
    }

    // One landmark of its own (complementary), holding the launcher and the dialog.
    var wrap = el("aside", {
      class: "fb " + cfg.theme + (cfg.position === "bottom-left" ? " left" : ""), lang: cfg.lang, "aria-label": s.region
    });
    var colours = palette(cfg.color);
    for (var name in colours) wrap.style.setProperty(name, colours[name]);

    this.launcher = el("button", {
      class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "faqbot-panel",
      "aria-label": s.open
    }, [icon("chat")]);
    this.dot = el("span", { class: "dot", "aria-hidden": "true", hidden: true });
    this.launcher.appendChild(this.dot);

    this.titleEl = el("h2", { id: "faqbot-title", text: cfg.title || (this.data.welcome && this.data.welcome.name) || s.title });
    this.closeBtn = el("button", { class: "close", type: "button", "aria-label": s.close }, [icon("close")]);
    this.statusText = el("span");
    this.retryBtn = el("button", { type: "button", text: s.retryNow, hidden: true });
    this.status = el("div", { class: "status", role: "status", hidden: true }, [this.statusText, this.retryBtn]);

    this.intro = el("li", { class: "intro" });
    // role=log on a wrapper, so the list inside keeps its list semantics.
    this.list = el("ol");
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": this.titleEl.textContent }, [this.list]);
    this.offline = this.buildOffline();
    this.banner = this.buildBanner();
    // Says once, politely, that the crisis numbers are pinned; the banner itself is not a live region.
    this.announcer = el("div", { class: "sr", role: "status" });
    this.typing = el("div", { class: "typing", role: "status", hidden: true }, [
      el("span", { class: "sr", text: s.typing }), el("i"), el("i"), el("i")
    ]);
    this.scroller = el("div", { class: "scroll" }, [this.offline, this.log, this.typing]);
    this.list.appendChild(this.intro);

    this.input = el("input", {
      id: "faqbot-input", type: "text", maxlength: String(MAX_TEXT), autocomplete: "off",
      enterkeyhint: "send", placeholder: s.placeholder
    });
    var label = el("label", { class: "sr", for: "faqbot-input", text: s.inputLabel });
    this.sendBtn = el("button", { class: "send", type: "submit", "aria-label": s.send }, [icon("send")]);
    this.form = el("form", { novalidate: true }, [label, this.input, this.sendBtn]);

    this.panel = el("div", {
      class: "panel", id: "faqbot-panel", role: "dialog", "aria-labelledby": "faqbot-title", hidden: true
    }, [el("div", { class: "head" }, [this.titleEl, this.closeBtn]), this.banner, this.status, this.scroller, this.form,
      this.announcer]);

    wrap.appendChild(this.panel);
    wrap.appendChild(this.launcher);
    root.appendChild(wrap);
    this.wrap = wrap;
    (document.body || document.documentElement).appendChild(host);

    this.listen(this.launcher, "click", function () { self.toggle(); });
    this.listen(this.closeBtn, "click", function () { self.close(); });
    this.listen(this.retryBtn, "click", function () { self.conn.retryNow(); });
    this.listen(this.form, "submit", function (ev) {
      ev.preventDefault();
      var text = self.input.value.trim();
      if (!text) return;
      self.input.value = "";
      self.ask(text);
    });
    this.listen(wrap, "keydown", function (ev) {
      if ((ev.key === "Escape" || ev.key === "Esc") && self.isOpen()) {
        ev.preventDefault();
        ev.stopPropagation();
        self.close();
      } else if (ev.key === "Tab" && self.isOpen() && self.phone) {
        self.trapTab(ev);
      }
    });
    // The page's CSP can refuse the websocket: say so in the console, and to the visitor in the panel.
    this.listen(document, "securitypolicyviolation", function (ev) { self.onCsp(ev); });
    // Coming back online or to the tab: don't wait out the backoff.
    this.listen(window, "online", function () { self.conn.retryNow(); });
    this.listen(document, "visibilitychange", function () {
      if (document.visibilityState === "visible") self.conn.retryNow();
    });
  };

  // What the visitor still gets with no server: the clinic's own lines and a crisis line.
  Widget.prototype.buildOffline = function () {
    var cfg = this.config, s = this.s;
    var box = el("div", { class: "offline", hidden: true }, [el("p", { class: "crisis-title" }, [icon("alert"), el("span", { text: s.offlineTitle })])]);
    var lines = el("div", { class: "lines" });
    if (cfg.contact) lines.appendChild(renderMarkdown(cfg.contact, s));
    if (cfg.crisis) lines.appendChild(renderMarkdown(cfg.crisis, s));
    box.appendChild(lines);
    return box;
  };

  // After a crisis reply: the crisis numbers (data-crisis, or the built-in line when that is empty) pinned
  // under the title bar for the rest of the conversation. Collapsing hides the numbers, never the bar.
  Widget.prototype.buildBanner = function () {
    var s = this.s, self = this;
    var lines = el("div", { class: "lines", id: "faqbot-banner-lines" }, [renderMarkdown(this.config.crisis || s.offlineCrisis, s)]);
    this.bannerToggle = el("button", {
      class: "toggle", type: "button", "aria-expanded": "true", "aria-controls": "faqbot-banner-lines"
    }, [el("span", { class: "label", text: s.bannerHide }), el("span", { class: "sr", text: " " + s.bannerToggle })]);
    this.bannerLines = lines;
    var bar = el("div", { class: "bar" }, [
      el("h3", { class: "crisis-title", id: "faqbot-banner-title" }, [icon("alert"), el("span", { text: s.bannerTitle })]),
      this.bannerToggle
    ]);
    var box = el("div", { class: "banner", "aria-labelledby": "faqbot-banner-title", hidden: true }, [bar, lines]);
    this.bannerToggle.addEventListener("click", function () {
      self.data.crisis.collapsed = !self.data.crisis.collapsed;
      self.paintBanner();
      self.save();
    });
    return box;
  };

  // `announce` only when a crisis reply has just arrived, not on a reload or a later reply.
  Widget.prototype.showBanner = function (announce) {
    var first = !this.data.crisis;
    if (first) this.data.crisis = { at: Date.now(), collapsed: false };
    else if (announce) this.data.crisis.collapsed = false; // a new crisis turn opens the numbers again
    this.paintBanner();
    if (first && announce) this.announcer.textContent = this.s.bannerAnnounce;
  };

  Widget.prototype.paintBanner = function () {
    var state = this.data.crisis;
    this.banner.hidden = !state;
    if (!state) return;
    this.bannerLines.hidden = !!state.collapsed;
    this.bannerToggle.setAttribute("aria-expanded", String(!state.collapsed));
    this.bannerToggle.querySelector(".label").textContent = state.collapsed ? this.s.bannerShow : this.s.bannerHide;
  };

  // ------------------------------------------------------------------------------------ phone layout
  // A phone is a narrow viewport; without <meta name=viewport> a phone lays the page out ~980 px wide and
  // shrinks it, so a coarse pointer on a narrow screen counts too, and the widget is zoomed back to size.
  Widget.prototype.watchPhone = function () {
    var self = this;
    this.checkPhone();
    this.listen(window, "resize", function () { self.checkPhone(); });
    this.listen(window, "orientationchange", function () { self.checkPhone(); });
  };

  Widget.prototype.checkPhone = function () {
    var width = document.documentElement.clientWidth || window.innerWidth;
    var zoom = 1;
    var phone = width <= PHONE_MAX;
    var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    var screenWidth = window.screen ? Math.min(window.screen.width, window.screen.height) : width;
    if (!phone && coarse && screenWidth <= PHONE_MAX && width > screenWidth * 1.2) {
      phone = true;
      zoom = Math.round((width / screenWidth) * 100) / 100;
    }
    this.wrap.style.zoom = zoom === 1 ? "" : String(zoom);
    if (phone === this.phone) return;
    this.phone = phone;
    this.wrap.classList.toggle("phone", phone);
    if (this.isOpen()) this.setModal(phone);
  };

  // The full-screen phone panel is a real modal: aria-modal, the page behind inert, Tab kept inside.
  Widget.prototype.setModal = function (on) {
    var self = this;
    if (on) {
      this.panel.setAttribute("aria-modal", "true");
      var parent = this.host.parentNode;
      if (!parent) return;
      Array.prototype.forEach.call(parent.children, function (node) {
        if (node === self.host || node.inert || node.tagName === "SCRIPT") return;
        node.inert = true;
        self.inerted.push(node);
      });
    } else {
      this.panel.removeAttribute("aria-modal");
      this.inerted.forEach(function (node) { node.inert = false; });
      this.inerted = [];
    }
  };

  Widget.prototype.trapTab = function (ev) {
    var items = Array.prototype.filter.call(
      this.panel.querySelectorAll("button, input, a[href]"),
      function (n) { return !n.disabled && n.getClientRects().length > 0; });
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1], active = this.root.activeElement;
    if (ev.shiftKey && (active === first || items.indexOf(active) < 0)) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (active === last || items.indexOf(active) < 0)) {
      ev.preventDefault();
      first.focus();
    }
  };

  Widget.prototype.isOpen = function () {
    return !this.panel.hidden;
  };

  Widget.prototype.open = function (opts) {
    if (this.data.refused) return;
    clearTimeout(this.lingerTimer);
    this.launcher.hidden = false; // opened from the page before the first connection answered
    this.panel.hidden = false;
    this.wrap.classList.add("open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.replaceChild(icon("close"), this.launcher.firstChild);
    this.data.unread = 0;
    this.paintUnread();
    this.data.open = true;
    this.save();
    if (this.phone) this.setModal(true);
    this.conn.connect();
    this.paintOffline();
    this.scrollDown();
    if (!opts || opts.focus !== false) this.input.focus();
  };

  Widget.prototype.close = function () {
    if (!this.isOpen()) return;
    this.setModal(false);
    this.panel.hidden = true;
    this.wrap.classList.remove("open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.replaceChild(icon("chat"), this.launcher.firstChild);
    this.paintUnread();
    this.data.open = false;
    this.save();
    if (!this.launcher.hidden) this.launcher.focus();
  };

  Widget.prototype.toggle = function () {
    if (this.isOpen()) this.close();
    else this.open();
  };

  Widget.prototype.save = function () {
    this.store.save(this.data);
  };

  Widget.prototype.nextId = function () {
    this.data.seq = (this.data.seq || 0) + 1;
    return "c" + this.data.seq;
  };

  // The first page view of a tab connects at once, so a refused origin never shows a launcher; the
  // connection is closed quietly if the visitor does not open the chat soon.
  Widget.prototype.probe = function () {
    var self = this;
    this.launcher.hidden = true;
    this.lingerTimer = setTimeout(function () { self.launcher.hidden = !!self.data.refused; }, 3000);
    this.conn.connect();
  };

  Widget.prototype.paintUnread = function () {
    var n = this.data.unread || 0;
    this.dot.hidden = !n || this.isOpen();
    this.dot.textContent = n > 9 ? "9+" : String(n);
    var label = this.isOpen() ? this.s.close : this.s.open;
    if (n && !this.isOpen()) label += " (" + (n === 1 ? this.s.unread : this.s.unreadMany.replace("{n}", String(n))) + ")";
    this.launcher.setAttribute("aria-label", label);
  };

  // --------------------------------------------------------------------------- sending and queueing
  Widget.prototype.ask = function (text, entry) {
    text = String(text || "").trim().slice(0, MAX_TEXT);
    if (!text) return;
    if (this.conn.state === CONN.STOPPED) {
      // Refused or blocked: queueing would promise a delivery that cannot happen.
      warn("the chat is not available on this page (see the error above); the message was not sent");
      return;
    }
    if (!this.isOpen()) this.open({ focus: false });
    var msg = { id: this.nextId(), role: "user", text: text, status: "queued", at: Date.now() };
    if (entry) msg.entry = entry;
    this.data.messages.push(msg);
    this.hideIntroChips();
    this.append(msg);
    this.flush();
  };

  Widget.prototype.flush = function () {
    var self = this;
    if (this.conn.state !== CONN.READY) {
      if (this.conn.state === CONN.IDLE) this.conn.connect();
      else if (this.conn.state === CONN.WAITING && this.isOpen()) this.conn.retryNow();
      this.save();
      return;
    }
    this.data.messages.forEach(function (m) {
      if (m.role === "bot" && m.vote && !m.voteSent) self.sendVote(m);
      if (m.role !== "user" || m.status !== "queued") return;
      var frame = m.entry ? { type: "pick", id: m.id, entry: m.entry } : { type: "message", id: m.id, text: m.text };
      if (self.conn.send(frame)) {
        m.status = "sent";
        m.sentAt = Date.now();
        self.update(m);
      }
    });
    this.save();
    this.updateTyping();
    this.armReplyTimer();
  };

  // A reply that never comes must not keep the typing dots forever: after replyTimeout the question
  // says "No answer yet" with a "Try again" button.
  Widget.prototype.armReplyTimer = function () {
    clearTimeout(this.replyTimer);
    this.replyTimer = null;
    var self = this, next = Infinity;
    this.data.messages.forEach(function (m) {
      if (m.role === "user" && m.status === "sent" && m.sentAt) next = Math.min(next, m.sentAt + self.config.replyTimeout);
    });
    if (next === Infinity) return;
    this.replyTimer = setTimeout(function () { self.expireReplies(); }, Math.max(0, next - Date.now()));
  };

  Widget.prototype.expireReplies = function () {
    var self = this, now = Date.now();
    this.data.messages.forEach(function (m) {
      if (m.role === "user" && m.status === "sent" && m.sentAt && now - m.sentAt >= self.config.replyTimeout - 20) {
        m.status = "timeout";
        self.update(m);
      }
    });
    this.save();
    this.updateTyping();
    this.armReplyTimer();
  };

  // "Try again" after a timeout and "Send again" after a rate limit: the same question, the same id.
  Widget.prototype.resend = function (status) {
    var self = this;
    this.data.messages.forEach(function (m) {
      if (m.role === "user" && m.status === status) {
        m.status = "queued";
        self.update(m);
      }
      if (m.role === "note" && m.kind === "rate" && status === "limited") {
        m.done = true;
        self.update(m);
      }
    });
    this.flush();
  };

  Widget.prototype.vote = function (msg, vote) {
    msg.vote = msg.vote === vote ? null : vote;
    this.update(msg);
    this.save();
    this.sendVote(msg);
  };

  Widget.prototype.sendVote = function (msg) {
    // Votes cast while offline go out with the queue after reconnecting; un-voting sends nothing.
    msg.voteSent = !msg.vote || this.conn.send({ type: "feedback", id: this.nextId(), reply: msg.replyTo, vote: msg.vote });
    this.save();
  };

  // ----------------------------------------------------------------------------- incoming frames
  Widget.prototype.onFrame = function (frame) {
    var t = frame.type;
    if (t === "welcome" || t === "resumed") this.onWelcome(frame);
    else if (t === "reply") this.onReply(frame);
    else if (t === "error") this.onError(frame);
    else if (t === "callback_result") this.onCallbackResult(frame);
    // ack and pong need nothing
  };

  Widget.prototype.onWelcome = function (frame) {
    var self = this;
    if (typeof frame.session === "string") this.data.session = frame.session;
    if (typeof frame.secret === "string") this.data.secret = frame.secret;
    if (!this.data.originOk) {
      this.data.originOk = true;
      clearTimeout(this.lingerTimer);
      this.launcher.hidden = false;
      if (!this.isOpen()) {
        this.lingerTimer = setTimeout(function () {
          var waiting = self.data.messages.some(function (m) { return m.role === "user" && m.status === "sent"; });
          if (!self.isOpen() && !waiting) self.conn.rest();
        }, PROBE_LINGER);
      }
    }
    if (t_str(frame.name) || t_str(frame.greeting)) {
      var welcome = {
        name: t_str(frame.name),
        greeting: t_str(frame.greeting),
        suggestions: Array.isArray(frame.suggestions) ? frame.suggestions.filter(t_str) : []
      };
      // Re-rendering an unchanged greeting on every reconnect would make screen readers read it again.
      if (JSON.stringify(welcome) !== JSON.stringify(this.data.welcome)) {
        this.data.welcome = welcome;
        this.store.saveWelcome(welcome);
        this.renderIntro();
      }
    }
    this.flush();
  };

  function t_str(v) {
    return typeof v === "string" && v ? v : "";
  }

  Widget.prototype.onReply = function (frame) {
    var reply = frame.reply && typeof frame.reply === "object" ? frame.reply : {};
    var id = "r" + (frame.id || this.nextId());
    if (frame.id && this.find(id)) return; // a late answer to a question asked again: shown once
    var asked = this.find(frame.id);
    if (asked) {
      asked.status = "answered";
      this.update(asked);
    }
    var msg = {
      id: id,
      role: "bot",
      at: Date.now(),
      replyTo: frame.id || null,
      reply: {
        type: REPLY_TYPES.indexOf(reply.type) >= 0 ? reply.type : "answer",
        text: t_str(reply.text),
        entry: t_str(reply.entry) || null,
        suggestions: Array.isArray(reply.suggestions) ? reply.suggestions.filter(t_str).slice(0, 6) : [],
        options: Array.isArray(reply.options) ? reply.options.filter(function (o) {
          return o && t_str(o.entry) && t_str(o.text);
        }).slice(0, 6) : []
      }
    };
    // Each answer goes right under its question, even when several queued questions went out together.
    var messages = this.data.messages;
    var at = asked ? messages.indexOf(asked) + 1 : messages.length;
    while (at > 0 && at < messages.length && messages[at].role !== "user") at += 1;
    messages.splice(at, 0, msg);
    var before = at + 1 < messages.length ? this.nodes[messages[at + 1].id] : null;
    this.append(msg, false, before || null);
    if (msg.reply.type === "crisis") { this.showBanner(true); this.closeCallbackForm(false); }
    this.save();
    if (frame.callback && typeof frame.callback === "object" && frame.callback.step === "name") {
      this.showCallbackForm(frame.callback);
    }
    this.updateTyping();
    this.armReplyTimer();
    if (!this.isOpen()) {
      this.data.unread = (this.data.unread || 0) + 1;
      this.paintUnread();
      this.save();
    }
  };

  // ------------------------------------------------------------------------------- callback form
  // The server offers the form when a callback request starts; it is never saved with the conversation.
  Widget.prototype.showCallbackForm = function (spec) {
    var self = this, s = this.s;
    this.closeCallbackForm(false);
    var fields = Array.isArray(spec.fields) ? spec.fields.filter(function (f) { return f && t_str(f.name); }) : [];
    var box = el("form", { class: "cb", novalidate: true, "aria-labelledby": "fb-cb-title" });
    box.appendChild(el("h3", { id: "fb-cb-title", text: s.callbackTitle }));
    var formError = el("p", { class: "cb-err", id: "fb-cb-form-err", role: "alert", hidden: true });
    box.appendChild(formError);
    var inputs = {}, errs = {};
    fields.forEach(function (f) {
      var id = "fb-cb-" + f.name;
      var attrs = { id: id, name: f.name, autocomplete: t_str(f.autocomplete) || "off",
                    maxlength: typeof f.max === "number" ? String(f.max) : null,
                    "aria-describedby": id + "-err", required: !!f.required, "aria-required": f.required ? "true" : null };
      var input = f.type === "textarea" ? el("textarea", attrs) : el("input", Object.assign({ type: "text" }, attrs));
      var label = el("label", { for: id }, [document.createTextNode(t_str(f.label) || f.name)]);
      if (f.required) label.appendChild(el("span", { class: "sr", text: " " + s.callbackRequired }));
      var err = el("p", { class: "cb-err", id: id + "-err", hidden: true });
      box.appendChild(el("div", { class: "cb-field" }, [label, input, err]));
      inputs[f.name] = input;
      errs[f.name] = err;
    });
    // A field people never see or reach: only bots fill it, and the server refuses what they send.
    var trap = el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" });
    box.appendChild(el("div", { class: "cb-trap", "aria-hidden": "true" }, [trap]));
    var consent = el("input", { type: "checkbox", id: "fb-cb-consent", "aria-describedby": "fb-cb-consent-err", required: true });
    var consentErr = el("p", { class: "cb-err", id: "fb-cb-consent-err", hidden: true });
    errs.consent = consentErr;
    inputs.consent = consent;
    box.appendChild(el("div", { class: "cb-consent" }, [consent,
      el("label", { for: "fb-cb-consent", text: t_str(spec.consent) }), consentErr]));
    var submit = el("button", { class: "cb-send", type: "submit", text: t_str(spec.submit) || s.send });
    var cancel = el("button", { class: "cb-cancel", type: "button", text: s.callbackCancel });
    box.appendChild(el("div", { class: "cb-actions" }, [submit, cancel]));
    this.listen(box, "submit", function (ev) {
      ev.preventDefault();
      var values = {};
      fields.forEach(function (f) { values[f.name] = inputs[f.name].value.slice(0, 1000); });
      if (trap.value) values.website = trap.value.slice(0, 1000);
      var id = self.nextId();
      self.cbPending = id;
      submit.disabled = true;
      // A connection lost after sending gives no answer: let the visitor send again rather than wait forever.
      setTimeout(function () {
        if (self.cbPending === id) { self.cbPending = null; submit.disabled = false; }
      }, 15000);
      if (!self.conn.send({ type: "callback", id: id, fields: values, consent: consent.checked })) {
        submit.disabled = false;
        self.cbPending = null;
        self.flush();
      }
    });
    this.listen(cancel, "click", function () { self.closeCallbackForm(true); });
    this.cb = { form: box, inputs: inputs, errs: errs, formError: formError, submit: submit };
    this.scroller.appendChild(box);
    this.form.hidden = true; // one thing to fill in at a time; the chat input returns with the form gone
    (inputs.name || consent).focus();
    this.scrollDown();
  };

  Widget.prototype.closeCallbackForm = function (cancelled) {
    if (!this.cb) return;
    if (this.cb.form.parentNode) this.cb.form.parentNode.removeChild(this.cb.form);
    this.cb = null;
    this.cbPending = null;
    this.form.hidden = false;
    if (cancelled) this.ask("cancel"); // the server leaves the step-by-step exchange too
    if (this.isOpen()) this.input.focus();
  };

  Widget.prototype.onCallbackResult = function (frame) {
    var cb = this.cb;
    if (!cb || frame.id !== this.cbPending) return;
    this.cbPending = null;
    cb.submit.disabled = false;
    if (frame.ok && frame.reply) {
      this.closeCallbackForm(false);
      this.onReply({ type: "reply", id: frame.id, reply: frame.reply });
      return;
    }
    var errors = frame.errors && typeof frame.errors === "object" ? frame.errors : {};
    var first = null;
    for (var name in cb.errs) {
      var msg = t_str(errors[name]);
      cb.errs[name].textContent = msg;
      cb.errs[name].hidden = !msg;
      if (msg) cb.inputs[name].setAttribute("aria-invalid", "true");
      else cb.inputs[name].removeAttribute("aria-invalid");
      if (msg && !first) first = cb.inputs[name];
    }
    cb.formError.textContent = t_str(errors.form) || (first ? this.s.callbackFix : "");
    cb.formError.hidden = !cb.formError.textContent;
    if (first) first.focus();
  };

  Widget.prototype.onError = function (frame) {
    var code = t_str(frame.code);
    if (code === "idle_timeout") return; // the connection goes idle quietly and comes back on demand
    if (code === "forbidden_origin") return; // handled by onState: hidden launcher, console error
    var text = this.s.errors[code] || this.s.errors.generic;
    var asked = frame.id ? this.find(frame.id) : null;
    if (asked && asked.role === "user") {
      asked.status = code === "rate_limited" ? "limited" : "failed";
      this.update(asked);
    }
    if (code === "too_many_connections") return; // the reconnect banner says it all
    if (code === "rate_limited" && this.openRateNote()) {
      this.save();
      this.updateTyping();
      return; // one note per burst, with one "Send again" for all of it
    }
    var note = { id: "e" + this.nextId(), role: "note", text: text };
    if (code === "rate_limited") note.kind = "rate";
    this.data.messages.push(note);
    this.append(note);
    this.save();
    this.updateTyping();
  };

  Widget.prototype.openRateNote = function () {
    for (var i = this.data.messages.length - 1; i >= 0; i--) {
      var m = this.data.messages[i];
      if (m.role === "note" && m.kind === "rate") return !m.done;
      if (m.role === "bot") return false;
    }
    return false;
  };

  Widget.prototype.onState = function (state) {
    var s = this.s, reason = this.conn.reason;
    var show = null;
    if (state === CONN.WAITING || (state === CONN.CONNECTING && this.conn.attempt > 0)) show = s.reconnecting;
    else if (state === CONN.CONNECTING && !this.data.welcome) show = s.connecting;
    else if (state === CONN.STOPPED && reason === "refused") show = s.errors.forbidden_origin;
    else if (state === CONN.STOPPED && reason === "csp") show = s.unavailable;
    this.status.hidden = !show;
    this.statusText.textContent = show || "";
    this.retryBtn.hidden = state !== CONN.WAITING;
    this.wrap.setAttribute("data-state", state);
    if (state !== CONN.READY) {
      // Whatever was in flight is lost with the socket: send it again once reconnected.
      var changed = false;
      var self = this;
      this.data.messages.forEach(function (m) {
        if (m.role === "user" && (m.status === "sent" || m.status === "queued")) {
          m.status = "queued";
          self.update(m);
          changed = true;
        }
      });
      if (changed) this.save();
    }
    if (state === CONN.STOPPED && reason === "refused") this.refuse();
    if (state === CONN.STOPPED && reason === "csp") this.blocked();
    if (state === CONN.WAITING && !this.isOpen() && !this.pending()) {
      // A probe that found no server: no retry loop in the background; opening the panel tries again.
      clearTimeout(this.lingerTimer);
      this.launcher.hidden = false;
      this.conn.pause();
    }
    this.updateTyping();
    this.armReplyTimer();
    this.paintOffline();
  };

  Widget.prototype.pending = function () {
    return this.data.messages.some(function (m) { return m.role === "user" && (m.status === "queued" || m.status === "sent"); });
  };

  Widget.prototype.onFailed = function (failures) {
    if (failures !== SLOW_WARN_AFTER) return;
    warn("cannot reach the chat server at " + this.config.server + " (" + failures + " attempts). Check that the " +
      "server is running and that data-server points at its /ws address; a proxy in between must pass " +
      "websockets (Upgrade headers). The widget keeps retrying and shows the visitor your contact lines.");
  };

  Widget.prototype.onCsp = function (ev) {
    var directive = ev.effectiveDirective || ev.violatedDirective || "";
    if (directive.indexOf("connect-src") !== 0 || ev.disposition === "report" || this.conn.state === CONN.STOPPED) return;
    var blocked = String(ev.blockedURI || "");
    try {
      if (new URL(blocked).host !== new URL(this.config.server).host) return;
    } catch (e) {
      return;
    }
    this.conn.stop("csp");
  };

  Widget.prototype.blocked = function () {
    var origin = new URL(this.config.server).origin.replace(/^http/, "ws");
    console.error("faqbot: this page's Content-Security-Policy blocks the chat's websocket " + this.config.server +
      " (connect-src). Add its address to connect-src, for example: Content-Security-Policy: connect-src 'self' " +
      origin + ". Visitors see your contact lines instead of the chat.");
    this.stopSending();
  };

  Widget.prototype.refuse = function () {
    var remembered = this.remembered;
    var origin = location.origin;
    console.error("faqbot: the chat server at " + this.config.server + " refused this page's origin " + origin +
      ". Add it to the server's allowed origins: FAQBOT_ORIGINS=" + origin + " (or faqbot serve --origins " + origin +
      "). The chat is hidden on this site until then" + (remembered ? " (remembered for this browser tab)." : "."));
    if (!this.data.refused) {
      this.data.refused = true;
      this.save();
    }
    clearTimeout(this.lingerTimer);
    this.launcher.hidden = true;
    this.stopSending();
  };

  Widget.prototype.stopSending = function () {
    var self = this;
    this.input.disabled = true;
    this.sendBtn.disabled = true;
    this.data.messages.forEach(function (m) {
      if (m.role === "user" && (m.status === "queued" || m.status === "sent")) {
        m.status = "failed";
        self.update(m);
      }
    });
    this.save();
  };

  Widget.prototype.find = function (id) {
    for (var i = this.data.messages.length - 1; i >= 0; i--) if (this.data.messages[i].id === id) return this.data.messages[i];
    return null;
  };

  // ------------------------------------------------------------------------------------- rendering
  Widget.prototype.restore = function () {
    var self = this;
    // Sent on the previous page but never answered: the new connection sends them again.
    this.data.messages.forEach(function (m) { if (m.role === "user" && m.status === "sent") m.status = "queued"; });
    this.renderIntro();
    this.data.messages.forEach(function (m) { self.append(m, true); });
    // A transcript kept by 1.1.0 has the crisis reply but no banner state yet.
    if (!this.data.crisis && this.data.messages.some(function (m) { return m.reply && m.reply.type === "crisis"; })) {
      this.showBanner(false);
    }
    this.paintBanner();
    this.hideIntroChips();
    this.paintUnread();
    this.scrollDown();
  };

  // Down or unreachable: the greeting (configured, remembered or built in) and the offline box.
  Widget.prototype.isOffline = function () {
    var c = this.conn;
    return c.state === CONN.WAITING || (c.state === CONN.CONNECTING && c.attempt > 0) ||
      (c.state === CONN.IDLE && c.attempt > 0) || (c.state === CONN.STOPPED && c.reason !== "destroyed");
  };

  Widget.prototype.paintOffline = function () {
    var offline = this.isOffline();
    this.offline.hidden = !offline;
    if (offline !== this.shownOffline) {
      this.shownOffline = offline;
      if (!this.config.greeting && !(this.data.welcome && this.data.welcome.greeting)) this.renderIntro();
    }
  };

  Widget.prototype.renderIntro = function () {
    var w = this.data.welcome || {};
    var greeting = this.config.greeting || w.greeting || (this.shownOffline ? this.s.greeting : "");
    if (!this.config.title && w.name) {
      this.titleEl.textContent = w.name;
      this.log.setAttribute("aria-label", w.name);
    }
    while (this.intro.firstChild) this.intro.removeChild(this.intro.firstChild);
    this.introChips = null;
    if (!greeting) return;
    var bubble = el("div", { class: "msg bot greeting" });
    bubble.appendChild(renderMarkdown(greeting, this.s));
    this.intro.appendChild(bubble);
    if (w.suggestions && w.suggestions.length) {
      this.introChips = this.chipList(w.suggestions.map(function (q) { return { text: q }; }), this.s.suggestions);
      this.intro.appendChild(this.introChips);
    }
    this.hideIntroChips();
  };

  Widget.prototype.hideIntroChips = function () {
    if (this.introChips) this.introChips.hidden = this.data.messages.some(function (m) { return m.role === "user"; });
  };

  Widget.prototype.chipList = function (items, label) {
    var self = this;
    var box = el("div", { class: "chip-box" });
    box.appendChild(el("p", { class: "chips-label", text: label }));
    var list = el("ul", { class: "chips", "aria-label": label });
    items.forEach(function (item) {
      var b = el("button", { class: "chip", type: "button", text: item.text });
      if (item.entry) b.setAttribute("data-entry", item.entry);
      b.addEventListener("click", function () { self.ask(item.text, item.entry); });
      list.appendChild(el("li", null, [b]));
    });
    box.appendChild(list);
    return box;
  };

  Widget.prototype.append = function (msg, restoring, before) {
    var node = this.render(msg);
    this.nodes[msg.id] = node;
    if (before) this.list.insertBefore(node, before);
    else this.list.appendChild(node);
    if (restoring) return;
    if (msg.role === "bot") this.scrollToReply(node);
    else this.scrollDown();
  };

  // A long answer is read from its start, with the question above it, not from its last line.
  Widget.prototype.scrollToReply = function (node) {
    var sc = this.scroller;
    var prev = node.previousElementSibling;
    var top = (prev && prev.classList.contains("user") ? prev.offsetTop : node.offsetTop) - 8;
    sc.scrollTop = Math.min(top, sc.scrollHeight - sc.clientHeight);
  };

  Widget.prototype.render = function (msg) {
    var s = this.s, self = this;
    if (msg.role === "user") {
      var li = el("li", { class: "msg user" }, [el("span", { class: "sr", text: s.you + ": " }), el("span", { class: "body", text: msg.text })]);
      var retry = el("button", { type: "button", class: "retry", text: s.retry });
      retry.addEventListener("click", function () { self.resend("timeout"); });
      li.appendChild(el("div", { class: "meta", hidden: true }, [el("span"), retry]));
      if (typeof msg.at === "number") li.appendChild(stamp(msg));
      this.paintStatus(li, msg);
      return li;
    }
    if (msg.role === "note") {
      var note = el("li", { class: "msg note" }, [el("span", { text: msg.text })]);
      if (msg.kind === "rate") {
        note.setAttribute("data-kind", "rate");
        var again = el("button", { type: "button", class: "resend", text: s.resend, hidden: !!msg.done });
        again.addEventListener("click", function () { self.resend("limited"); });
        note.appendChild(document.createTextNode(" "));
        note.appendChild(again);
      }
      return note;
    }

    var reply = msg.reply || {}; // stored by an older version, or edited: render what is there
    reply.options = Array.isArray(reply.options) ? reply.options : [];
    reply.suggestions = Array.isArray(reply.suggestions) ? reply.suggestions : [];
    var crisis = reply.type === "crisis";
    var body = reply.text;
    var item = el("li", { class: "msg bot " + reply.type, "data-type": reply.type });
    if (reply.entry) item.setAttribute("data-entry", reply.entry);
    var content = el("div", { class: "body" });
    if (crisis) {
      // Announced at once (role=alert), and looks unlike any other reply.
      content.setAttribute("role", "alert");
      content.appendChild(el("p", { class: "crisis-title" }, [icon("alert"), el("span", { text: s.crisisTitle })]));
    } else {
      content.appendChild(el("span", { class: "sr", text: s.bot + ": " }));
    }
    if (reply.type === "concern") {
      // The first paragraph is the crisis line: its own marked note, then the answer as usual.
      var blocks = String(body || "").replace(/\r\n?/g, "\n").split(/\n\s*\n/);
      content.appendChild(el("div", { class: "concern-note" }, [
        icon("heart"), el("div", { class: "text" }, [renderMarkdown(blocks[0], s)])
      ]));
      body = blocks.slice(1).join("\n\n");
    }
    content.appendChild(renderMarkdown(body, s));
    item.appendChild(content);
    // Nothing to pick or book on a crisis reply, whatever the server sent: the numbers stand alone.
    if (reply.options.length && !crisis) item.appendChild(this.chipList(reply.options, s.options));
    if (reply.suggestions.length && !crisis) {
      item.appendChild(this.chipList(reply.suggestions.map(function (q) { return { text: q }; }), s.suggestions));
    }
    if (VOTED_TYPES.indexOf(reply.type) >= 0) {
      var up = el("button", { class: "vote up", type: "button", "aria-label": s.helpful, title: s.helpful }, [icon("up")]);
      var down = el("button", { class: "vote down", type: "button", "aria-label": s.notHelpful, title: s.notHelpful }, [icon("down")]);
      up.addEventListener("click", function () { self.vote(msg, "up"); });
      down.addEventListener("click", function () { self.vote(msg, "down"); });
      item.appendChild(el("div", { class: "votes" }, [up, down, el("span", { class: "thanks", "aria-live": "polite" })]));
      this.paintVote(item, msg);
    }
    if (typeof msg.at === "number") item.appendChild(stamp(msg));
    return item;
  };

  // The time a message was sent or received, in the visitor's locale ("14:05", "2:05 PM").
  function stamp(msg) {
    var d = new Date(msg.at);
    var shown;
    try {
      shown = d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    } catch (e) {
      shown = d.getHours() + ":" + ("0" + d.getMinutes()).slice(-2);
    }
    return el("time", { class: "stamp", datetime: d.toISOString(), text: shown });
  }

  Widget.prototype.update = function (msg) {
    var node = this.nodes[msg.id];
    if (!node) return;
    if (msg.role === "user") this.paintStatus(node, msg);
    else if (msg.role === "note") {
      var again = node.querySelector(".resend");
      if (again) again.hidden = !!msg.done;
    } else this.paintVote(node, msg);
  };

  Widget.prototype.paintStatus = function (node, msg) {
    var meta = node.querySelector(".meta");
    var text = msg.status === "queued" && this.conn.state !== CONN.READY ? this.s.queued
      : msg.status === "failed" ? this.s.failed
        : msg.status === "timeout" ? this.s.noReply : "";
    meta.firstChild.textContent = text;
    meta.querySelector(".retry").hidden = msg.status !== "timeout";
    meta.hidden = !text;
    node.setAttribute("data-status", msg.status);
  };

  Widget.prototype.paintVote = function (node, msg) {
    var up = node.querySelector(".vote.up"), down = node.querySelector(".vote.down");
    if (!up) return;
    up.setAttribute("aria-pressed", String(msg.vote === "up"));
    down.setAttribute("aria-pressed", String(msg.vote === "down"));
    node.querySelector(".thanks").textContent = msg.vote ? this.s.feedbackThanks : "";
  };

  Widget.prototype.updateTyping = function () {
    var waiting = this.conn.state === CONN.READY && this.data.messages.some(function (m) {
      return m.role === "user" && m.status === "sent";
    });
    if (this.typing.hidden === !waiting) return;
    this.typing.hidden = !waiting;
    if (waiting) this.scrollDown();
  };

  Widget.prototype.scrollDown = function () {
    var sc = this.scroller;
    sc.scrollTop = sc.scrollHeight;
  };

  Widget.prototype.destroy = function () {
    this.destroyed = true;
    this.setModal(false);
    clearTimeout(this.replyTimer);
    clearTimeout(this.lingerTimer);
    this.conn.stop("destroyed");
    this.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2], l[3]); });
    this.listeners = [];
    if (this.host.parentNode) this.host.parentNode.removeChild(this.host);
  };

  // ------------------------------------------------------------------------------------------- boot
  var widget = null;

  function start() {
    if (widget || document.querySelector(HOST_TAG)) return;
    widget = new Widget(readConfig(script));
  }

  window.Faqbot = {
    __faqbot: true,
    version: VERSION,
    open: function () { if (widget) widget.open(); },
    close: function () { if (widget) widget.close(); },
    toggle: function () { if (widget) widget.toggle(); },
    isOpen: function () { return !!widget && widget.isOpen(); },
    ask: function (text) { if (widget) widget.ask(text); },
    // Removes the element, the socket, timers and listeners, and this global. The conversation stays in
    // sessionStorage, so loading the script again continues it.
    destroy: function () {
      if (widget) widget.destroy();
      widget = null;
      try { delete window.Faqbot; } catch (e) { window.Faqbot = undefined; }
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
