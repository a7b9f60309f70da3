// A photo with the face box (and landmarks, when known) drawn over it. The
// overlay is an SVG in the photo's own pixel coordinates, so it scales with
// the picture.
import { useState } from 'preact/hooks';
import type { Rect } from '../api.js';

export function Photo(props: {
  src: string;
  rect?: Rect | undefined;
  landmarks?: Array<[number, number]>;
  /** Natural size when known (saves waiting for the image to load). */
  size?: { width: number; height: number };
  tone?: 'ok' | 'bad';
  alt: string;
  class?: string;
}) {
  const [natural, setNatural] = useState(props.size);
  const size = props.size ?? natural;
  return (
    <div class={`photo ${props.class ?? ''}`}>
      <img
        src={props.src}
        alt={props.alt}
        onLoad={(e) => setNatural({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
      />
      {size && (props.rect || props.landmarks?.length) && (
        <svg viewBox={`0 0 ${size.width} ${size.height}`} preserveAspectRatio="none" class={props.tone ?? 'ok'}>
          {props.rect && (
            <rect
              x={props.rect.left}
              y={props.rect.top}
              width={props.rect.right - props.rect.left}
              height={props.rect.bottom - props.rect.top}
              vector-effect="non-scaling-stroke"
            />
          )}
          {props.landmarks?.map(([x, y], i) => (
            <circle key={i} cx={x} cy={y} r={Math.max(1.5, size.width / 250)} class="landmark" />
          ))}
        </svg>
      )}
    </div>
  );
}
