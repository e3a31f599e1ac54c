/* The portal's one script (served by the portal itself; the CSP allows no inline script).
   - A running audit's page (#live) follows the run's progress events (server-sent events) and reloads
     when the run ends.
   - Forms with data-confirm ask before they are sent. */
(function () {
  "use strict";

  function format(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  function followRun(live) {
    var text = live.dataset;
    var log = document.getElementById("live-log");
    var tally = { servers_ok: 0, servers_error: 0, network_ok: 0, network_error: 0 };
    var source;

    function line(message, className) {
      var item = document.createElement("li");
      item.textContent = message;
      if (className) {
        item.className = className;
      }
      log.appendChild(item);
      while (log.children.length > 300) {
        log.removeChild(log.firstChild);
      }
    }

    function bump(field) {
      tally[field] += 1;
      var shown = live.querySelector('[data-live="' + field + '"]');
      if (shown) {
        shown.textContent = String(tally[field]);
      }
    }

    function counts(byStatus) {
      var parts = [];
      ["pass", "fail", "error", "manual", "not_applicable"].forEach(function (status) {
        var n = byStatus && byStatus[status];
        if (n) {
          parts.push(text["tCount" + status.replace(/_(\w)/g, function (m, c) { return c.toUpperCase(); })
            .replace(/^\w/, function (c) { return c.toUpperCase(); })] + " " + n);
        }
      });
      return parts.join(" · ");
    }

    function data(event) {
      try {
        return JSON.parse(event.data);
      } catch (error) {
        return null;
      }
    }

    function on(kind, handle) {
      source.addEventListener(kind, function (event) {
        var payload = data(event);
        if (payload) {
          handle(payload);
        }
      });
    }

    function reloadSoon(ms) {
      window.setTimeout(function () { window.location.reload(); }, ms);
    }

    source = new EventSource(text.events);
    on("run_started", function (e) {
      line(format(text.tRunStarted, { servers: e.servers, agencies: e.agencies, checks: e.checks }));
    });
    on("host_started", function (e) {
      line(format(text.tHostStarted, { host: e.host_name, address: e.address }), "muted");
    });
    on("host_finished", function (e) {
      if (e.target_kind === "host") {
        bump(e.status === "ok" ? "servers_ok" : "servers_error");
      }
      var status = e.status === "ok" ? text.tOk : text.tError + (e.error_reason ? " (" + e.error_reason + ")" : "");
      line(format(text.tHostFinished, { host: e.host_name, status: status, counts: counts(e.counts) }),
        e.status === "ok" ? "" : "bad");
    });
    on("network_target_finished", function (e) {
      bump(e.status === "ok" ? "network_ok" : "network_error");
      var status = e.status === "ok" ? text.tOk : text.tError + (e.error_reason ? " (" + e.error_reason + ")" : "");
      line(format(text.tNetwork, { target: e.target, status: status, counts: counts(e.counts) }),
        e.status === "ok" ? "" : "bad");
    });
    on("run_finished", function (e) {
      source.close();
      var key = "tRun" + String(e.status || "").replace(/^\w/, function (c) { return c.toUpperCase(); });
      line(format(text.tRunFinished, { status: text[key] || e.status }), "done");
      reloadSoon(1500);
    });
    on("elsewhere", function () {
      source.close();
      var notice = document.getElementById("live-elsewhere");
      if (notice) {
        notice.hidden = false;
      }
      reloadSoon(20000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmForms();
    var live = document.getElementById("live");
    if (live && window.EventSource) {
      followRun(live);
    }
  });
})();
