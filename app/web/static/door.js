// The door page (/d/{token}): check in, rate the station, or report a problem, with the token the QR code carried.
// A random id per installation (X-Client-Id) lets the service count this phone once an hour without knowing it.
(function () {
  "use strict";
  const page = document.getElementById("door");
  const token = page.dataset.token;
  const siteId = page.dataset.site;
  const said = document.getElementById("said");

  function clientId() {
    let id = localStorage.getItem("yizhan-client-id");
    if (!id) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("yizhan-client-id", id);
    }
    return id;
  }

  async function send(path, body) {
    const answer = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Client-Id": clientId() },
      body: JSON.stringify(body),
    });
    const found = await answer.json();
    if (!answer.ok) {
      throw new Error(found.detail || answer.statusText);
    }
    return found;
  }

  function say(text) {
    said.textContent = text;
  }

  document.getElementById("check-in").addEventListener("click", async () => {
    const group = document.getElementById("worker-group").value;
    try {
      const found = await send("/v1/visits", group ? { token: token, worker_group: group } : { token: token });
      say(found.counted ? "签到成功 Checked in" : "本小时已签到 Already checked in this hour");
    } catch (error) {
      say("签到失败 " + error.message);
    }
  });

  document.getElementById("rate").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = { token: token, stars: Number(form.get("stars")), tags: form.getAll("tags") };
    const comment = String(form.get("comment") || "").trim();
    if (comment) {
      body.comment = comment;
    }
    try {
      await send("/v1/sites/" + siteId + "/ratings", body);
      say("谢谢评价 Thank you for your rating");
    } catch (error) {
      say("评价失败 " + error.message);
    }
  });

  document.getElementById("report").addEventListener("submit", async (event) => {
    event.preventDefault();
    const type = new FormData(event.target).get("type");
    try {
      await send("/v1/sites/" + siteId + "/reports", { type: type, token: token });
      say("已反映 Reported");
    } catch (error) {
      say("反映失败 " + error.message);
    }
  });
})();
