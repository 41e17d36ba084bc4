// The call page: draws the timeline at the chosen zoom, keeps the playback cursor and the
// playing transcript turn in step with the <audio> element, and seeks where the user clicks.
// Loaded as a file (no inline script: the page's CSP forbids it). No dependencies.
(function () {
  'use strict';
  var svg = document.getElementById('timeline');
  if (!svg) { return; }
  var scroll = document.getElementById('timeline-scroll');
  var audio = document.getElementById('player');
  var cursor = document.getElementById('cursor');
  var axis = document.getElementById('axis');
  var NS = 'http://www.w3.org/2000/svg';
  var duration = parseFloat(svg.getAttribute('data-duration')) || 0;
  var spans = Array.prototype.slice.call(svg.querySelectorAll('[data-t0]'));
  var pins = Array.prototype.slice.call(svg.querySelectorAll('[data-t]'));
  var turns = Array.prototype.slice.call(document.querySelectorAll('.transcript [data-start]'));
  // labels in the row above the lanes (latencies, stop times): drawn while they do not collide
  var rowLabels = Array.prototype.slice.call(svg.querySelectorAll('[data-tc]')).sort(function (a, b) {
    return num(a, 'data-tc') - num(b, 'data-tc');
  });
  var LABEL_SPACING = 54;
  var TICK_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  var MAX_PPS = 400;
  var pps = parseFloat(svg.getAttribute('data-pps')) || 1;
  var fitPps = pps;
  var position = 0;
  var playing = null;

  function num(el, name) { return parseFloat(el.getAttribute(name)); }

  function layout() {
    svg.setAttribute('width', (duration * pps + 20).toFixed(1));
    spans.forEach(function (el) {
      var t0 = num(el, 'data-t0'), t1 = num(el, 'data-t1'), w = (t1 - t0) * pps;
      if (el.tagName === 'text') {
        el.setAttribute('x', ((t0 + t1) / 2 * pps).toFixed(1));
        el.classList.toggle('hidden', w < num(el, 'data-fit'));
      } else {
        el.setAttribute('x', (t0 * pps).toFixed(1));
        el.setAttribute('width', Math.max(1, w).toFixed(1));
      }
    });
    var lastX = -Infinity;
    rowLabels.forEach(function (el) {
      var x = num(el, 'data-tc') * pps;
      el.setAttribute('x', x.toFixed(1));
      el.classList.toggle('hidden', x - lastX < LABEL_SPACING);
      if (x - lastX >= LABEL_SPACING) { lastX = x; }
    });
    pins.forEach(function (el) {
      el.setAttribute('transform', 'translate(' + (num(el, 'data-t') * pps).toFixed(1) + ' 0)');
    });
    drawTicks();
    moveCursor(position, false);
  }

  function label(seconds, step) {
    var m = Math.floor(seconds / 60), s = seconds - m * 60;
    var text = step < 1 ? s.toFixed(1) : String(Math.round(s));
    if (s < 10) { text = '0' + text; }
    return m + ':' + text;
  }

  // only the ticks in view are drawn: a long call zoomed in would otherwise need thousands
  function drawTicks() {
    var step = TICK_STEPS.filter(function (s) { return s * pps >= 70; })[0] || 3600;
    var from = Math.max(0, Math.floor(scroll.scrollLeft / pps / step) * step);
    var to = Math.min(duration, (scroll.scrollLeft + scroll.clientWidth) / pps + step);
    while (axis.firstChild) { axis.removeChild(axis.firstChild); }
    for (var t = from; t <= to + 1e-9; t += step) {
      var x = t * pps;
      var line = document.createElementNS(NS, 'line');
      line.setAttribute('x1', x); line.setAttribute('x2', x);
      line.setAttribute('y1', 18); line.setAttribute('y2', 148);
      axis.appendChild(line);
      var text = document.createElementNS(NS, 'text');
      text.setAttribute('x', x + 3); text.setAttribute('y', 13);
      text.textContent = label(t, step);
      axis.appendChild(text);
    }
  }

  function zoomTo(newPps, anchorTime) {
    var anchorX = anchorTime * pps - scroll.scrollLeft;
    pps = Math.min(MAX_PPS, Math.max(fitPps, newPps));
    layout();
    scroll.scrollLeft = anchorTime * pps - anchorX;
    drawTicks();
  }

  function centreTime() { return (scroll.scrollLeft + scroll.clientWidth / 2) / pps; }

  function highlight(t) {
    var current = null;
    for (var i = 0; i < turns.length; i++) {
      var turn = turns[i];
      if (num(turn, 'data-start') <= t && t < num(turn, 'data-end')) { current = turn; break; }
    }
    if (current === playing) { return; }
    if (playing) { playing.classList.remove('playing'); }
    playing = current;
    if (current) {
      current.classList.add('playing');
      var list = current.parentNode.parentNode;  // the scrolling transcript card
      if (current.offsetTop < list.scrollTop || current.offsetTop > list.scrollTop + list.clientHeight - 40) {
        list.scrollTop = current.offsetTop - list.clientHeight / 3;
      }
    }
  }

  function moveCursor(t, follow) {
    position = t;
    var x = (t * pps).toFixed(1);
    cursor.setAttribute('x1', x); cursor.setAttribute('x2', x);
    if (follow && (t * pps < scroll.scrollLeft || t * pps > scroll.scrollLeft + scroll.clientWidth - 20)) {
      scroll.scrollLeft = t * pps - scroll.clientWidth / 4;
    }
    highlight(t);
  }

  function seek(t) {
    if (audio) { audio.currentTime = t; }
    moveCursor(t, true);
  }

  function onSeekClick(event) {
    var target = event.target.closest('[data-seek]');
    if (target) { seek(parseFloat(target.getAttribute('data-seek'))); }
  }

  function tick() {
    moveCursor(audio.currentTime, true);
    if (!audio.paused) { window.requestAnimationFrame(tick); }
  }

  function onSeekKey(event) {  // Enter or Space on a focused turn or mark seeks like a click
    if (event.key === 'Enter' || event.key === ' ') {
      var target = event.target.closest('[data-seek]');
      if (target) { event.preventDefault(); seek(parseFloat(target.getAttribute('data-seek'))); }
    }
  }

  svg.addEventListener('click', onSeekClick);
  svg.addEventListener('keydown', onSeekKey);
  document.querySelectorAll('.transcript').forEach(function (list) {
    list.addEventListener('click', onSeekClick);
    list.addEventListener('keydown', onSeekKey);
  });
  if (audio) {
    audio.addEventListener('play', function () { window.requestAnimationFrame(tick); });
    audio.addEventListener('seeked', function () { moveCursor(audio.currentTime, true); });
    audio.addEventListener('timeupdate', function () { if (audio.paused) { moveCursor(audio.currentTime, false); } });
  }
  document.getElementById('zoom-in').addEventListener('click', function () { zoomTo(pps * 2, centreTime()); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoomTo(pps / 2, centreTime()); });
  document.getElementById('zoom-fit').addEventListener('click', function () { zoomTo(fitPps, 0); });
  scroll.addEventListener('wheel', function (event) {  // ctrl/⌘ + wheel zooms around the pointer
    if (!event.ctrlKey && !event.metaKey) { return; }
    event.preventDefault();
    var rect = scroll.getBoundingClientRect();
    zoomTo(pps * (event.deltaY < 0 ? 1.25 : 0.8), (scroll.scrollLeft + event.clientX - rect.left) / pps);
  }, { passive: false });
  var pending = false;
  scroll.addEventListener('scroll', function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; drawTicks(); });
  });
  window.addEventListener('resize', function () {
    var atFit = pps === fitPps;
    fitPps = duration > 0 ? Math.max(0.01, (scroll.clientWidth - 24) / duration) : 1;
    if (atFit) { pps = fitPps; }
    layout();
  });

  fitPps = duration > 0 ? Math.max(0.01, (scroll.clientWidth - 24) / duration) : 1;
  pps = fitPps;
  layout();
  svg.setAttribute('data-ready', '1');
}());
