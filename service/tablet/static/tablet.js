/* The tablet page's script (no build step, no library).
   1. One question per screen: the form page holds every question; this shows one at a
      time and steps between them without the network.
   2. Nothing lost on a shaky connection: a reading, an answered form or a message that
      could not be sent is kept in this tablet's storage and sent again when the
      connection is back. Each carries the key its form was drawn with, and the server
      stores a resend once, so sending twice is harmless.
   Without this script every form still works as a plain post. */
(function () {
  "use strict";
  var STORE = "dho-outbox";
  var banner = document.getElementById("outbox");

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(items) { window.localStorage.setItem(STORE, JSON.stringify(items)); }

  function say(text) {
    if (!banner) { return; }
    banner.hidden = !text;
    banner.textContent = text || "";
  }
  function showWaiting() {
    var n = load().length;
    if (n && banner) { say(banner.dataset.waiting.replace("{n}", String(n))); }
  }

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    });
  }

  // Delivered: stored, stored before (a resend), or refused for good. Not delivered: no
  // answer, the server busy or away (5xx), or the login has run out (kept until the
  // patient logs in again).
  function delivered(response) {
    return response.status < 500 && response.url.indexOf("/me/login") === -1;
  }

  var flushing = false;
  function flush() {
    if (flushing) { return Promise.resolve(); }
    var items = load();
    if (!items.length) { return Promise.resolve(); }
    flushing = true;
    var done = [];
    var refused = 0;
    var chain = Promise.resolve();
    items.forEach(function (item) {
      chain = chain.then(function () {
        return post(item.url, item.body).then(function (response) {
          if (delivered(response)) {
            done.push(item.key);
            // Received, but not taken (a number outside what a device can show): the
            // patient is told, since the page that would have said so is gone.
            if (response.status >= 400) { refused += 1; }
          }
        }, function () { /* still offline: kept */ });
      });
    });
    return chain.then(function () {
      flushing = false;
      save(load().filter(function (item) { return done.indexOf(item.key) === -1; }));
      if (refused && banner) { say(banner.dataset.refused.replace("{n}", String(refused))); }
      else if (done.length && !load().length && banner) { say(banner.dataset.sent); }
      else { showWaiting(); }
    });
  }

  function keep(form, body) {
    var key = (form.querySelector("input[name=key]") || {}).value || String(Date.now());
    var items = load();
    if (!items.some(function (item) { return item.key === key; })) {
      items.push({ url: form.getAttribute("action"), body: body, key: key, at: new Date().toISOString() });
      save(items);
    }
    showWaiting();
    if (banner) { banner.focus(); }
  }

  function show(response) {
    if (response.redirected) { window.location.assign(response.url); return Promise.resolve(); }
    return response.text().then(function (html) {
      document.open();
      document.write(html);
      document.close();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-keep-offline]"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var taken = form.querySelector("input[name=taken_at]");
      if (taken && !taken.value) { taken.value = new Date().toISOString(); }
      var body = new URLSearchParams(new FormData(form)).toString();
      var button = form.querySelector("[type=submit]");
      if (button) { button.disabled = true; }
      post(form.getAttribute("action"), body).then(function (response) {
        if (!delivered(response)) { throw new Error("not delivered"); }
        return show(response);
      }).catch(function () {
        keep(form, body);
        if (button) { button.disabled = false; }
      });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-one-per-screen]"), function (form) {
    var questions = Array.prototype.slice.call(form.querySelectorAll("fieldset.question"));
    var back = form.querySelector("[data-step=back]");
    var next = form.querySelector("[data-step=next]");
    var send = form.querySelector("[data-step=send]");
    var progress = form.querySelector(".progress");
    if (questions.length < 2 || !back || !next || !send || !progress) { return; }
    var at = Math.max(0, questions.findIndex(function (q) { return q.classList.contains("has-error"); }));

    function answered(q) {
      if (q.querySelector("input:checked")) { return true; }
      return Array.prototype.some.call(q.querySelectorAll("input[type=text]"), function (i) { return i.value.trim() !== ""; });
    }
    function draw(focus) {
      questions.forEach(function (q, i) { q.hidden = i !== at; });
      back.hidden = at === 0;
      next.hidden = at === questions.length - 1;
      send.hidden = at !== questions.length - 1;
      progress.hidden = false;
      progress.textContent = form.dataset.progress.replace("{n}", String(at + 1)).replace("{total}", String(questions.length));
      if (focus) {
        var legend = questions[at].querySelector("legend");
        legend.setAttribute("tabindex", "-1");
        legend.focus();
      }
    }
    next.addEventListener("click", function () {
      var q = questions[at];
      if (q.dataset.required === "true" && !answered(q)) {
        var error = q.querySelector("p.error");
        if (!error) {
          error = document.createElement("p");
          error.className = "error";
          error.id = q.id + "-error";
          error.textContent = form.dataset.answerFirst;
          q.querySelector("legend").insertAdjacentElement("afterend", error);
          q.setAttribute("aria-describedby", error.id);
        }
        q.classList.add("has-error");
        error.focus();
        return;
      }
      at += 1;
      draw(true);
    });
    back.addEventListener("click", function () { at -= 1; draw(true); });
    draw(false);
  });

  window.addEventListener("online", function () { flush(); });
  window.setInterval(function () { if (navigator.onLine) { flush(); } }, 15000);
  showWaiting();
  if (navigator.onLine) { flush(); }
}());
