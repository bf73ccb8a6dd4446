/* Personvern cookie banner. Embed with:
 *   <script src="https://personvern.example.no/static/banner.js" defer></script>
 * Mark every script that needs consent as inert, with its category:
 *   <script type="text/plain" data-personvern-category="marketing" src="ads.js"></script>
 * Such scripts run only once their category is allowed. Optional attributes on the
 * banner's own tag: data-lang="nb|en" (default: the page's lang). A link or button with
 * data-personvern-open reopens the banner. No framework, no inline styles in markup. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) return;
  var base = new URL(me.src).origin;
  var lang = (me.getAttribute("data-lang") || document.documentElement.lang || "nb")
    .slice(0, 2) === "en" ? "en" : "nb";
  var KEY = "personvern.browser";
  var T = {
    nb: { title: "Informasjonskapsler", intro: "Vi bruker nødvendige informasjonskapsler " +
      "for at nettstedet skal virke. Med ditt samtykke bruker vi også disse:",
      accept: "Godta alle", reject: "Avvis alle", choose: "Velg selv", save: "Lagre valget",
      policy: "Personvernerklæring", cookies: "Informasjonskapsler", gpc: "Nettleseren din " +
      "ber om at vi ikke deler eller selger data (GPC). Vi har derfor avvist alt som ikke er " +
      "nødvendig.", failed: "Valget kunne ikke lagres. Prøv igjen." },
    en: { title: "Cookies", intro: "We use necessary cookies to make the site work. With " +
      "your consent we also use these:", accept: "Accept all", reject: "Reject all",
      choose: "Let me choose", save: "Save my choice", policy: "Privacy policy",
      cookies: "Cookies", gpc: "Your browser asks us not to share or sell data (GPC). We " +
      "have therefore refused everything that is not necessary.",
      failed: "The choice could not be saved. Please try again." }
  }[lang];
  var cfg = null, root = null, state = null;

  function store(id) { try { localStorage.setItem(KEY, id); } catch (e) { /* private mode */ } }
  function stored() { try { return localStorage.getItem(KEY); } catch (e) { return null; } }
  function api(path, body) {
    var init = { method: body ? "POST" : "GET", credentials: "omit", mode: "cors",
      headers: body ? { "Content-Type": "application/json" } : {} };
    if (body) init.body = JSON.stringify(body);
    return fetch(base + path, init).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  /* Run the inert scripts of every allowed category (each once). */
  function activate(allowed) {
    var inert = document.querySelectorAll("script[type='text/plain'][data-personvern-category]");
    Array.prototype.forEach.call(inert, function (old) {
      if (!allowed[old.getAttribute("data-personvern-category")]) return;
      var s = document.createElement("script");
      Array.prototype.forEach.call(old.attributes, function (a) {
        if (a.name !== "type") s.setAttribute(a.name, a.value);
      });
      s.removeAttribute("data-personvern-category");
      s.setAttribute("data-personvern-activated", "");
      if (!old.src) s.text = old.text;
      old.parentNode.replaceChild(s, old);
    });
    document.dispatchEvent(new CustomEvent("personvern:consent", { detail: allowed }));
  }

  function save(choices) {
    var body = { choices: choices };
    var id = stored();
    if (id) body.browser_id = id;
    return api("/api/v1/cookie-choices", body).then(function (s) {
      state = s;
      store(s.browser_id);
      close();
      activate(s.allowed);
      return s;
    });
  }

  function all(value) {
    var c = {};
    cfg.categories.forEach(function (k) { c[k.id] = k.required || value; });
    return c;
  }

  function el(tag, props, kids) {
    var e = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "style") Object.assign(e.style, props[k]);
      else if (k === "text") e.textContent = props[k];
      else e.setAttribute(k, props[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(k); });
    return e;
  }

  var BTN = { font: "inherit", fontWeight: "600", padding: "0.55em 1.1em", margin: "0.25em",
    border: "2px solid #0b4f8a", borderRadius: "4px", background: "#0b4f8a",
    color: "#fff", cursor: "pointer", minWidth: "10em" };

  function button(text, id, onclick, plain) {
    var b = el("button", { type: "button", id: id, text: text,
      style: plain ? Object.assign({}, BTN, { background: "#fff", color: "#0b4f8a" }) : BTN });
    b.addEventListener("click", onclick);
    return b;
  }

  function fail(msg) {
    var m = root && root.querySelector("[data-pv-msg]");
    if (m) m.textContent = msg;
  }

  function open(withChoices) {
    close();
    var list = el("div", { hidden: "", id: "personvern-choices" });
    cfg.categories.forEach(function (c) {
      var box = el("input", { type: "checkbox", id: "pv-cat-" + c.id, name: c.id });
      if (c.required) { box.checked = true; box.disabled = true; }
      else if (state && state.allowed && !state.needs_choice) box.checked = !!state.allowed[c.id];
      var names = c.cookies.map(function (k) { return k.name + " (" + k.provider + ")"; });
      list.appendChild(el("p", {}, [box, el("label", { "for": "pv-cat-" + c.id,
        text: " " + c.name + ": " + c.description + (names.length ? " " + T.cookies + ": " +
        names.join(", ") + "." : "") })]));
    });
    var choose = button(T.choose, "personvern-choose", function () {
      list.hidden = false; choose.hidden = true; saveBtn.hidden = false;
      list.querySelector("input:not([disabled])") &&
        list.querySelector("input:not([disabled])").focus();
    }, true);
    var saveBtn = button(T.save, "personvern-save", function () {
      var c = {};
      cfg.categories.forEach(function (k) { c[k.id] = document.getElementById("pv-cat-" +
        k.id).checked; });
      save(c).catch(function () { fail(T.failed); });
    }, true);
    saveBtn.hidden = true;
    var names = cfg.categories.filter(function (c) { return !c.required; })
      .map(function (c) { return c.name.toLowerCase(); }).join(", ");
    root = el("section", { id: "personvern-banner", role: "region", lang: lang,
      "aria-labelledby": "personvern-title",
      style: { position: "fixed", left: "0", right: "0", bottom: "0", zIndex: "2147483647",
        background: "#fff", color: "#1a1a1a", borderTop: "3px solid #1a1a1a",
        padding: "1em 1.25em", font: "16px/1.5 system-ui, sans-serif",
        maxHeight: "80vh", overflowY: "auto" } }, [
      el("h2", { id: "personvern-title", text: T.title,
        style: { font: "700 1.2em system-ui, sans-serif", margin: "0 0 0.4em" } }),
      el("p", { text: T.intro + " " + names + "." , style: { margin: "0 0 0.5em" } }),
      list,
      el("p", { "data-pv-msg": "", role: "alert", style: { color: "#9b1c1c", margin: "0" } }),
      el("div", {}, [
        // Accept and reject look the same and sit side by side: equally easy.
        button(T.accept, "personvern-accept", function () {
          save(all(true)).catch(function () { fail(T.failed); });
        }),
        button(T.reject, "personvern-reject", function () {
          save(all(false)).catch(function () { fail(T.failed); });
        }),
        choose, saveBtn,
        el("a", { href: base + cfg.policy_url, text: T.policy,
          style: { marginLeft: "0.75em", color: "#0b4f8a" } })
      ])
    ]);
    document.body.appendChild(root);
    if (withChoices) choose.click();
  }

  function close() { if (root) { root.parentNode.removeChild(root); root = null; } }

  function start() {
    document.addEventListener("click", function (e) {
      var t = e.target.closest && e.target.closest("[data-personvern-open]");
      if (t && cfg) { e.preventDefault(); open(true); }
    });
    api("/banner/config?lang=" + lang).then(function (c) {
      cfg = c;
      var id = stored();
      return id ? api("/api/v1/cookie-choices/" + encodeURIComponent(id))
        .catch(function () { return null; }) : null;
    }).then(function (s) {
      state = s;
      // Only necessary cookies: nothing to ask (ekomloven § 3-15 exempts them).
      if (!cfg.categories.some(function (c) { return !c.required; })) return;
      if (navigator.globalPrivacyControl === true && (!s || s.needs_choice ||
          !Object.keys(s.allowed).every(function (k) { return k === "necessary" ||
            !s.allowed[k]; }))) {
        // GPC: refuse everything but necessary without asking, and say so once.
        return save(all(false)).then(function () {
          if (window.console) window.console.info("personvern: " + T.gpc);
        });
      }
      if (s && !s.needs_choice) activate(s.allowed);
      else open(false);
    }).catch(function () { /* the engine is unreachable: nothing optional loads */ });
  }

  window.personvern = { open: function () { if (cfg) open(true); },
    allowed: function (cat) { return !!(state && state.allowed && state.allowed[cat]); } };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
