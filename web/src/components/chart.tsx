/**
 * A uPlot chart that fills its container's width. uPlot draws on a canvas, so tens of
 * thousands of points stay smooth; the plot is built once per `options` and fed new data in place.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

let canvasSupport: boolean | undefined;
function canDraw(): boolean {
  if (canvasSupport === undefined) {
    try {
      canvasSupport = document.createElement('canvas').getContext('2d') !== null;
    } catch {
      canvasSupport = false;
    }
  }
  return canvasSupport;
}

/** Props of {@link Chart}. */
export interface ChartProps {
  /** What the chart shows (its accessible name). */
  title: string;
  /** uPlot options but the size; a new object rebuilds the plot, so memoise it. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  /** Plot height in CSS pixels (default 280). */
  height?: number;
}

export function Chart({ title, options, data, height = 280 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  const drawable = canDraw();

  // Build the plot for these options; follow the container's width
  useEffect(() => {
    const el = box.current;
    if (!el || !drawable) return;
    const width = () => Math.max(200, Math.floor(el.clientWidth || 600));
    const u = new uPlot({ ...options, width: width(), height }, dataRef.current, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [options, height, drawable]);

  // New data, same plot
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  if (!drawable) {
    return (
      <div className="chart chart-unsupported" role="img" aria-label={title}>
        {title}: this browser cannot draw charts (no canvas).
      </div>
    );
  }
  return <div className="chart" ref={box} role="img" aria-label={title} />;
}

/** A colour for series i. */
export function seriesColor(i: number): string {
  const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
  return palette[i % palette.length] ?? '#2563eb';
}
