// A map where a page asks for one (div.dimos-map), from the municipality's
// own tile server (the page's CSP allows that origin alone): pressing on
// it fills the form's hidden lat/lon inputs, a button takes the pin away,
// and the areas drawn by the municipality are outlined. Progressive
// enhancement: the form works without it (the address is always asked
// for), and the map's field stays hidden unless this script runs.
(function () {
  "use strict";
  if (typeof L === "undefined") return;
  function text(s) {
    var span = document.createElement("span");
    span.textContent = s || "";
    return span;
  }
  function escaped(s) {
    return text(s).innerHTML;
  }
  var maps = document.querySelectorAll("div.dimos-map");
  Array.prototype.forEach.call(maps, function (el) {
    var lat = document.getElementById(el.getAttribute("data-lat-input"));
    var lon = document.getElementById(el.getAttribute("data-lon-input"));
    var status = document.getElementById(el.getAttribute("data-status"));
    var field = document.getElementById(el.getAttribute("data-field"));
    if (!lat || !lon) return;
    if (field) field.hidden = false;
    el.hidden = false;
    var map = L.map(el, {
      center: [parseFloat(el.getAttribute("data-lat")), parseFloat(el.getAttribute("data-lon"))],
      zoom: parseInt(el.getAttribute("data-zoom"), 10),
      zoomControl: false
    });
    L.control.zoom({
      zoomInTitle: el.getAttribute("data-zoom-in") || "+",
      zoomOutTitle: el.getAttribute("data-zoom-out") || "-"
    }).addTo(map);
    // The municipality's words are text, never markup.
    L.tileLayer(el.getAttribute("data-tiles"), {
      attribution: escaped(el.getAttribute("data-attribution")),
      maxZoom: 19
    }).addTo(map);
    var areas = [];
    try { areas = JSON.parse(el.getAttribute("data-areas") || "[]"); } catch (e) { areas = []; }
    areas.forEach(function (a) {
      L.polygon(a.polygon, { weight: 2, fillOpacity: 0.05 }).bindTooltip(text(a.name)).addTo(map);
    });
    var marker = null;
    var clear = document.createElement("button");
    clear.type = "button";
    clear.className = "govgr-btn govgr-btn-secondary";
    clear.textContent = el.getAttribute("data-clear") || "×";
    clear.hidden = true;
    el.insertAdjacentElement("afterend", clear);
    function say(s) { if (status) status.textContent = s; }
    function place(ll) {
      if (marker) marker.setLatLng(ll);
      else marker = L.circleMarker(ll, { radius: 9, weight: 3 }).addTo(map);
      lat.value = ll.lat.toFixed(6);
      lon.value = ll.lng.toFixed(6);
      clear.hidden = false;
      say((el.getAttribute("data-chosen") || "").replace("{lat}", lat.value).replace("{lon}", lon.value));
    }
    clear.addEventListener("click", function () {
      if (marker) { map.removeLayer(marker); marker = null; }
      lat.value = "";
      lon.value = "";
      clear.hidden = true;
      say(el.getAttribute("data-cleared") || "");
    });
    if (lat.value && lon.value) place(L.latLng(parseFloat(lat.value), parseFloat(lon.value)));
    map.on("click", function (e) { place(e.latlng); });
    // By keyboard: the arrows move the map (Leaflet's own), Enter or Space
    // puts the pin at its centre.
    el.addEventListener("keydown", function (e) {
      if (e.target !== el || (e.key !== "Enter" && e.key !== " ")) return;
      e.preventDefault();
      place(map.getCenter());
    });
  });
})();
