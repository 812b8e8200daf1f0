// Live queue: the centre's item events (the API's /api/queue/events, through the
// session) make this page fetch the changed row as the server renders it and put it
// in its place. No reload: scroll position and focus stay where the nurse left them.
// Requests made here are marked passive: they do not keep an idle session alive.
(function () {
  "use strict";
  var PASSIVE = { "X-DHO-Passive": "1" };

  function queueBox() { return document.getElementById("queue"); }

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }

  function refreshEmpty() {
    document.querySelectorAll("tbody[data-kind]").forEach(function (body) {
      var empty = document.querySelector('[data-empty="' + body.dataset.kind + '"]');
      if (empty) { empty.hidden = body.children.length > 0; }
    });
  }

  function place(row) {
    var body = document.querySelector('tbody[data-kind="' + row.dataset.kind + '"]');
    if (!body) { return; }
    var before = null;
    Array.prototype.some.call(body.children, function (other) {
      if (other.dataset.rank > row.dataset.rank) { before = other; return true; }
      return false;
    });
    body.insertBefore(row, before);
  }

  function update(itemId) {
    var box = queueBox();
    if (!box) { return; }
    var filters = box.dataset.filters ? "?" + box.dataset.filters : "";
    fetch("/console/queue/rows/" + encodeURIComponent(itemId) + filters,
          { headers: PASSIVE, credentials: "same-origin" })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        var old = document.getElementById("item-" + itemId);
        if (answer.status === 204) {
          if (old) {
            var hadFocus = old.contains(document.activeElement);
            old.remove();
            if (hadFocus) { document.getElementById("main").focus(); }
          }
          refreshEmpty();
          return null;
        }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var row = template.content.firstElementChild;
        var old = document.getElementById("item-" + itemId);
        var focusedName = null;
        if (old && old.contains(document.activeElement)) {
          focusedName = document.activeElement.getAttribute("href") || document.activeElement.textContent;
        }
        if (old && old.dataset.rank === row.dataset.rank && old.dataset.kind === row.dataset.kind) {
          old.replaceWith(row);
        } else {
          if (old) { old.remove(); }
          place(row);
        }
        if (!old) {
          row.classList.add("fresh");
          var status = document.getElementById("live-status");
          announce(status ? status.dataset.updated : "");
        }
        if (focusedName !== null) {
          var again = Array.prototype.find.call(row.querySelectorAll("a, button"), function (el) {
            return (el.getAttribute("href") || el.textContent) === focusedName;
          });
          if (again) { again.focus(); }
        }
        refreshEmpty();
      })
      .catch(function () { /* the next event or the reconnect brings it */ });
  }

  function connect() {
    if (!window.EventSource) { return; }
    var source = new EventSource("/console/queue/events");
    var kinds = ["created", "raised", "updated", "reopened", "back_in_range", "claimed",
                 "released", "resolved", "snoozed", "escalated"];
    kinds.forEach(function (kind) {
      source.addEventListener(kind, function (message) {
        try { update(JSON.parse(message.data).item_id); } catch (e) { /* ignore */ }
      });
    });
    source.onerror = function () {
      // A closed session answers 401: the browser stops; find out and go to login.
      if (source.readyState === EventSource.CLOSED) {
        fetch("/console/queue/rows/none", { headers: PASSIVE }).then(function (answer) {
          if (answer.status === 401) { window.location.reload(); }
          else { setTimeout(connect, 3000); }
        });
      }
    };
    source.onopen = function () { document.documentElement.dataset.live = "connected"; };
  }

  document.addEventListener("DOMContentLoaded", connect);
  // htmx swaps #queue when a filter changes: its data-filters then says what is shown.
})();
