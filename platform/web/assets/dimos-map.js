// A map where a page asks for one (div.dimos-map), from the municipality's
// own tile server (the page's CSP allows that origin alone): pressing on
// it fills the form's hidden lat/lon inputs, and the areas drawn by the
// municipality are outlined. Progressive enhancement: the form works
// without it (the address is always asked for).
(function () {
  "use strict";
  if (typeof L === "undefined") return;
  var maps = document.querySelectorAll("div.dimos-map");
  Array.prototype.forEach.call(maps, function (el) {
    var lat = document.getElementById(el.getAttribute("data-lat-input"));
    var lon = document.getElementById(el.getAttribute("data-lon-input"));
    var status = document.getElementById(el.getAttribute("data-status"));
    if (!lat || !lon) return;
    el.hidden = false;
    var map = L.map(el, {
      center: [parseFloat(el.getAttribute("data-lat")), parseFloat(el.getAttribute("data-lon"))],
      zoom: parseInt(el.getAttribute("data-zoom"), 10)
    });
    L.tileLayer(el.getAttribute("data-tiles"), {
      attribution: el.getAttribute("data-attribution"),
      maxZoom: 19
    }).addTo(map);
    var areas = [];
    try { areas = JSON.parse(el.getAttribute("data-areas") || "[]"); } catch (e) { areas = []; }
    areas.forEach(function (a) {
      L.polygon(a.polygon, { weight: 2, fillOpacity: 0.05 }).bindTooltip(a.name).addTo(map);
    });
    var marker = null;
    function place(ll) {
      if (marker) marker.setLatLng(ll);
      else marker = L.circleMarker(ll, { radius: 9, weight: 3 }).addTo(map);
      lat.value = ll.lat.toFixed(6);
      lon.value = ll.lng.toFixed(6);
      if (status) {
        status.textContent = (el.getAttribute("data-chosen") || "")
          .replace("{lat}", lat.value).replace("{lon}", lon.value);
      }
    }
    if (lat.value && lon.value) place(L.latLng(parseFloat(lat.value), parseFloat(lon.value)));
    map.on("click", function (e) { place(e.latlng); });
  });
})();
