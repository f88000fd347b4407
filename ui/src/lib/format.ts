/** Masks the middle of a phone number: "+963944000111" → "+9639•••••111". */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return '';
  const p = phone.replace(/[\s\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, '');
  const digits = p.replace(/\D/g, '');
  if (digits.length <= 4) return p;
  const keepEnd = 3;
  const keepStart = Math.min(4, Math.max(1, digits.length - keepEnd - 4));
  let seen = 0;
  let out = '';
  for (const ch of p) {
    if (/\d/.test(ch)) {
      out += seen < keepStart || seen >= digits.length - keepEnd ? ch : '•';
      seen++;
    } else out += ch;
  }
  return out;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? h + ':' : ''}${mm}:${String(s).padStart(2, '0')}`;
}

export function formatScore(score: number): string {
  return (score >= 0 ? '+' : '') + score.toFixed(2);
}

export function sentimentClass(score: number): 'neg' | 'neu' | 'pos' {
  return score <= -0.2 ? 'neg' : score >= 0.2 ? 'pos' : 'neu';
}

/** SVG polyline points for a sparkline of values in -1..1. */
export function sparkPoints(values: number[], width: number, height: number): string {
  if (values.length === 0) return '';
  const n = values.length;
  const step = n > 1 ? width / (n - 1) : 0;
  return values
    .map((v, i) => {
      const c = Math.max(-1, Math.min(1, v));
      const x = n > 1 ? i * step : width / 2;
      const y = ((1 - c) / 2) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

export function formatTime(epochMs: number, lang: string): string {
  return new Date(epochMs).toLocaleString(lang === 'ar' ? 'ar-u-nu-latn' : 'en-GB', {
    dateStyle: 'short',
    timeStyle: 'short',
  });
}
