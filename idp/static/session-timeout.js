/* Session time limits (WCAG 2.2.1 Timing Adjustable): shortly before a signed-in session ends for
   inactivity, offer to stay signed in; shortly before its absolute lifetime ends (which nothing
   extends), say so, and when it has ended, lead to the sign-in. The server writes the seconds left on
   <body> and the notice, hidden, into #session-timeout-notice; without JavaScript the footer states
   the limits. */
(function () {
  "use strict";
  var body = document.body;
  var source = document.getElementById("session-timeout-notice");
  var secondsLeft = Number(body.dataset.sessionSecondsLeft);
  var idleSeconds = Number(body.dataset.sessionIdleSeconds);
  var warningSeconds = Number(body.dataset.sessionWarningSeconds);
  var lifetimeSecondsLeft = Number(body.dataset.sessionLifetimeSecondsLeft);
  if (!source || !window.fetch || !(secondsLeft >= 0) || !(idleSeconds > 0)) {
    return;
  }
  var main = document.getElementById("main");
  var timer = null;
  var lifetimeEnd = lifetimeSecondsLeft >= 0 ? Date.now() + lifetimeSecondsLeft * 1000 : Infinity;

  /* The idle end is `seconds` away; the lifetime's may come first. */
  function schedule(seconds) {
    window.clearTimeout(timer);
    var lifetimeLeft = (lifetimeEnd - Date.now()) / 1000;
    if (lifetimeLeft <= seconds) {
      timer = window.setTimeout(warnOfLifetime, Math.max(0, lifetimeLeft - warningSeconds) * 1000);
    } else {
      timer = window.setTimeout(warn, Math.max(0, seconds - warningSeconds) * 1000);
    }
  }

  function copyOfNotice() {
    var notice = source.cloneNode(true);
    notice.removeAttribute("id");
    notice.setAttribute("role", "alert");  /* announced as it appears */
    notice.hidden = false;
    return notice;
  }

  /* Nothing can be done about the lifetime but finishing: the notice is announced, focus stays where the
     citizen is typing. At the end it says so and leads to the sign-in. */
  function warnOfLifetime() {
    var notice = copyOfNotice();
    notice.querySelector(".session-notice-warning").hidden = true;
    notice.querySelector(".session-notice-lifetime").hidden = false;
    main.insertBefore(notice, main.firstChild);
    timer = window.setTimeout(function () {
      notice.querySelector(".session-notice-lifetime").hidden = true;
      notice.querySelector(".session-notice-ended").hidden = false;
    }, Math.max(0, lifetimeEnd - Date.now()));
  }

  function warn() {
    var returnFocusTo = document.activeElement;
    var notice = copyOfNotice();
    var button = notice.querySelector("button");
    var sending = false;
    button.addEventListener("click", function () {
      if (sending) {
        return;
      }
      sending = true;
      keepAlive(notice, returnFocusTo).then(function () { sending = false; });
    });
    main.insertBefore(notice, main.firstChild);
    button.focus();
  }

  /* Post to the keep-alive address: 204 restarts the idle clock; 400/401 mean the session is over. */
  function keepAlive(notice, returnFocusTo) {
    return window.fetch(source.dataset.keepAliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": source.dataset.csrfToken, "Accept": "application/json"}
    }).then(function (response) {
      if (response.status === 204) {
        notice.remove();
        var target = returnFocusTo && returnFocusTo !== body && document.contains(returnFocusTo) ? returnFocusTo : main;
        target.focus();
        schedule(idleSeconds);
      } else if (response.status === 400 || response.status === 401) {
        showEnded(notice);
      }
    }, function () { /* no connection: the notice stays, the button can be pressed again */ });
  }

  function showEnded(notice) {
    notice.querySelector(".session-notice-warning").hidden = true;
    var ended = notice.querySelector(".session-notice-ended");
    ended.hidden = false;
    ended.querySelector("a").focus();
  }

  schedule(secondsLeft);
}());
