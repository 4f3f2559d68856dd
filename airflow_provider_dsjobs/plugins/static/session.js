// Airflow 3.0's UI moves its login token from the _token cookie into localStorage ("token") and deletes the
// cookie, so a page of this plugin asked for after that gets no login. This page hands the token back as a
// cookie scoped to the plugin's path (same origin, never sent elsewhere) and reloads once; without a token,
// or when that token was already tried, it goes to the login page.
(function () {
  var root = document.documentElement;
  var token = window.localStorage.getItem("token");
  var tried = window.sessionStorage.getItem("dsjobs-session-token");
  if (token && token !== tried) {
    window.sessionStorage.setItem("dsjobs-session-token", token);
    document.cookie = "_token=" + encodeURIComponent(token) + "; path=" + root.dataset.path + "; SameSite=Strict";
    window.location.reload();
  } else {
    window.location.replace(root.dataset.login);
  }
})();
