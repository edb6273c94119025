(function () {
  "use strict";
  // The key lives only in these inputs and this closure: never in a URL,
  // storage or anything sent anywhere but this service.
  var keyId = document.getElementById("key-id");
  var keySecret = document.getElementById("key-secret");
  var apiRoot = location.pathname.replace(/\/api\/docs\/?$/, "");

  function selectTab(id, push) {
    var tabs = document.querySelectorAll(".tabs [role=tab]");
    var found = false;
    tabs.forEach(function (tab) {
      var on = tab.dataset.tab === id;
      found = found || on;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      document.getElementById("panel-" + tab.dataset.tab).hidden = !on;
    });
    if (!found) return selectTab("overview", false);
    if (push) history.replaceState(null, "", "#" + id);
  }

  document.querySelectorAll(".tabs [role=tab]").forEach(function (tab) {
    tab.addEventListener("click", function () { selectTab(tab.dataset.tab, true); });
  });
  document.querySelectorAll(".toc-link").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var target = document.querySelector(link.getAttribute("href"));
      if (target) target.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });
  selectTab((location.hash || "#overview").slice(1), false);

  function copyText(text, button) {
    function done() {
      button.textContent = "Copied";
      button.classList.add("done");
      setTimeout(function () { button.textContent = "Copy"; button.classList.remove("done"); }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy");
    if (button) copyText(button.parentElement.querySelector("code").textContent, button);
    var sampleTab = event.target.closest(".sample-tab");
    if (sampleTab) {
      var box = sampleTab.closest(".samples");
      box.querySelectorAll(".sample-tab").forEach(function (t) {
        t.setAttribute("aria-selected", t === sampleTab ? "true" : "false");
      });
      box.querySelectorAll(".sample").forEach(function (s) {
        s.hidden = s.dataset.sample !== sampleTab.dataset.sample;
      });
    }
  });

  function requestFor(article, form) {
    var path = article.dataset.path;
    var query = new URLSearchParams();
    var body = null;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) return;
      var value = field.value.trim();
      if (field.name.indexOf("path:") === 0) {
        path = path.replace("{" + field.name.slice(5) + "}", encodeURIComponent(value));
      } else if (field.name.indexOf("query:") === 0 && value !== "") {
        query.append(field.name.slice(6), value);
      } else if (field.name === "body" && value !== "") {
        body = value;
      }
    });
    var headers = { Accept: article.dataset.accept + ", application/problem+json" };
    if (article.dataset.public !== "true" || keyId.value) {
      if (keyId.value) headers["X-API-Key-ID"] = keyId.value.trim();
      if (keySecret.value) headers["X-API-Key-Secret"] = keySecret.value.trim();
    }
    if (body !== null) {
      headers["Content-Type"] = "application/json";
      if (article.dataset.method === "POST") headers["Idempotency-Key"] = newKey();
    }
    var text = query.toString();
    return { url: apiRoot + path + (text ? "?" + text : ""), init: { method: article.dataset.method, headers: headers, body: body, credentials: "omit", cache: "no-store" } };
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "docs-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  async function show(response, article, result) {
    var status = result.querySelector(".status");
    var out = result.querySelector(".response");
    var type = response.headers.get("content-type") || "";
    var lines = [];
    status.textContent = response.status + " " + (response.statusText || "") + " · " + (type || "no body");
    status.className = "status " + (response.ok ? "ok" : "err");
    ["x-request-id", "ratelimit", "x-ratelimit-remaining", "retry-after"].forEach(function (name) {
      var value = response.headers.get(name);
      if (value) lines.push(name + ": " + value);
    });
    var text;
    if (type.indexOf("json") >= 0) {
      var raw = await response.text();
      try { text = JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { text = raw; }
    } else if (article.dataset.kind === "binary") {
      var blob = await response.blob();
      text = "(" + blob.size + " bytes of " + type + ")";
    } else {
      text = (await response.text()).slice(0, 4000);
    }
    out.textContent = (lines.length ? lines.join("\n") + "\n\n" : "") + text;
  }

  document.querySelectorAll(".try-form").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var article = form.closest(".operation");
      var result = article.querySelector(".result");
      var request = requestFor(article, form);
      result.hidden = false;
      result.querySelector(".status").textContent = "Sending…";
      result.querySelector(".response").textContent = "";
      try {
        await show(await fetch(request.url, request.init), article, result);
      } catch (error) {
        result.querySelector(".status").textContent = "No answer: " + error.message;
        result.querySelector(".status").className = "status err";
      }
    });
  });
})();
