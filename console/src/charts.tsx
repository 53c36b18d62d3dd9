// Resource charts drawn as SVG: one small line chart per metric, with a time axis, a 0-100 % value axis and the
// unit. No chart library: five line charts do not need one.
import type { MetricSeries } from './api';

const LABELS: Record<string, string> = {
  CpuUtilization: 'CPU',
  MemoryUtilization: 'Memory',
  DiskUtilization: 'Disk',
  GpuUtilization: 'GPU',
  GpuMemoryUtilization: 'GPU memory',
};

const W = 360;
const H = 160;
const PAD = { left: 40, right: 10, top: 10, bottom: 28 };

function timeLabel(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function MetricChart({ series }: { series: MetricSeries }) {
  const pts = series.datapoints.map((d) => ({ t: Date.parse(d.timestamp), v: d.value })).filter((p) => Number.isFinite(p.t));
  const percent = series.unit === 'percent';
  const label = `${LABELS[series.name] ?? series.name} (${percent ? '%' : series.unit})`;
  const t0 = pts.length ? pts[0].t : 0;
  const t1 = pts.length ? Math.max(pts[pts.length - 1].t, t0 + 1000) : 1;
  const vmax = percent ? 100 : Math.max(1, ...pts.map((p) => p.v));
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - Math.min(v, vmax) / vmax) * (H - PAD.top - PAD.bottom);
  const path = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const last = pts[pts.length - 1];
  const ticks = [0, vmax / 2, vmax];
  return (
    <figure className="chart" data-metric={series.name}>
      <figcaption>
        {label}
        {last ? `: ${last.v.toFixed(1)} now` : ''}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label} over time, ${pts.length} samples${last ? `, latest ${last.v.toFixed(1)}` : ''}`}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className="grid" />
            <text x={PAD.left - 4} y={y(v) + 4} textAnchor="end" className="tick">
              {Math.round(v)}
            </text>
          </g>
        ))}
        <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} className="axis" />
        <line x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} className="axis" />
        {pts.length > 0 && (
          <>
            <text x={PAD.left} y={H - 8} className="tick">
              {timeLabel(t0)}
            </text>
            <text x={W - PAD.right} y={H - 8} textAnchor="end" className="tick">
              {timeLabel(t1)}
            </text>
          </>
        )}
        {pts.length > 1 && <path d={path} className="series" />}
        {pts.length === 1 && <circle cx={x(pts[0].t)} cy={y(pts[0].v)} r={3} className="series-dot" />}
        {pts.length === 0 && (
          <text x={W / 2} y={H / 2} textAnchor="middle" className="tick">
            no samples yet
          </text>
        )}
      </svg>
    </figure>
  );
}
