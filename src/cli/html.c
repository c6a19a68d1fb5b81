/* cli: the HTML report - one self-contained file (inline CSS and SVG, no script, nothing
 * fetched) that reads on a laptop and prints to PDF. Figures a reader may check against
 * the JSON output carry data-json="key" with the JSON's own formatting (%.9g). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char css[] =
    "body{font:15px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1d232b;"
    "max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px "
    "solid #d5dbe3;padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}"
    ".lede{color:#46505c;margin:0 0 16px}"
    "table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}"
    "th,td{padding:3px 10px;border-bottom:1px solid #e6eaef;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#f3f5f8;font-weight:600}"
    ".knee td{background:#fff4d6}.muted{color:#6b7480}"
    "svg{display:block;margin:8px 0;max-width:100%;height:auto}"
    "svg text{font:12px -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#1d232b}"
    "pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:12px;white-space:pre-wrap}"
    "ul.notes li{margin:3px 0}.legend span{display:inline-block;margin-right:14px}"
    ".sw{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}"
    "@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid}"
    "svg,table,figure{break-inside:avoid}pre{white-space:pre-wrap}}";

/* Colours of the step-breakdown parts, shared by every chart. */
const char *const cli_html_part_color[CLI_HTML_PARTS] = {"#3b7dd8", "#e3843b", "#9a6bd1", "#d1496b",
                                                         "#4bb0a8", "#7c8a99", "#e6c13b", "#7fbf5a",
                                                         "#b0855a", "#c7ccd3"};
const char *const cli_html_part_name[CLI_HTML_PARTS] = {
    "compute", "TP", "CP", "EP", "PP sends", "DP", "bubble", "optimizer", "overhead", "stragglers"};

void cli_html_parts(const struct us_breakdown *b, double *v)
{
    double p[CLI_HTML_PARTS] = {b->compute_s,  b->tp_comm_s,  b->cp_comm_s, b->ep_comm_s,
                                b->pp_comm_s,  b->dp_comm_s,  b->bubble_s,  b->optimizer_s,
                                b->overhead_s, b->straggler_s};
    for (int i = 0; i < CLI_HTML_PARTS; i++)
        v[i] = isfinite(p[i]) && p[i] > 0 ? p[i] : 0;
}

void cli_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

void cli_html_begin(FILE *f, const char *title, const char *lede)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>");
    cli_html_text(f, title);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>", css);
    cli_html_text(f, title);
    fprintf(f, "</h1>\n<p class=\"lede\">");
    cli_html_text(f, lede);
    fprintf(f, " ultrasim %s.</p>\n", US_VERSION);
}

void cli_html_end(FILE *f)
{
    fprintf(f, "<p class=\"muted\">Every equation and constant: docs/MODEL.md; every preset "
               "figure and its source: docs/CATALOG.md and <code>ultrasim show SYSTEM</code>. "
               "This file loads nothing from the network and runs no script.</p>\n"
               "</body></html>\n");
}

void cli_html_num(FILE *f, const char *key, const char *shown, double v)
{
    fprintf(f, "<span data-json=\"%s\" data-value=\"%.9g\">%s</span>", key, v, shown);
}

void cli_html_numf(FILE *f, const char *key, const char *fmt, double shown, double v)
{
    char b[64];
    snprintf(b, sizeof b, fmt, shown);
    cli_html_num(f, key, b, v);
}

void cli_html_legend(FILE *f)
{
    fprintf(f, "<p class=\"legend\">");
    for (int i = 0; i < CLI_HTML_PARTS; i++)
        fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>",
                cli_html_part_color[i], cli_html_part_name[i]);
    fprintf(f, "</p>\n");
}

/* Horizontal stacked bars, one per row, on a common scale; parts[r][i] >= 0. */
void cli_html_stacked_bars(FILE *f, const char *title, int rows, const char *const *labels,
                           const double (*parts)[CLI_HTML_PARTS], const char *unit)
{
    double most = 0;
    for (int r = 0; r < rows; r++) {
        double t = 0;
        for (int i = 0; i < CLI_HTML_PARTS; i++)
            t += parts[r][i];
        most = fmax(most, t);
    }
    const int w = 900, left = 170, bar = 26, gap = 12, top = 24;
    int h = top + rows * (bar + gap) + 24;
    fprintf(f,
            "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\"><title>",
            w, h, w, h);
    cli_html_text(f, title);
    fprintf(f, "</title>\n");
    for (int r = 0; r < rows; r++) {
        int y = top + r * (bar + gap);
        double x = left, t = 0;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + bar / 2 + 4);
        cli_html_text(f, labels[r]);
        fprintf(f, "</text>\n");
        for (int i = 0; i < CLI_HTML_PARTS; i++) {
            double wd = most > 0 ? parts[r][i] / most * (w - left - 90) : 0;
            t += parts[r][i];
            if (wd <= 0)
                continue;
            fprintf(f,
                    "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\">"
                    "<title>%s %.4g %s</title></rect>\n",
                    x, y, wd, bar, cli_html_part_color[i], cli_html_part_name[i], parts[r][i],
                    unit);
            x += wd;
        }
        fprintf(f, "<text x=\"%.2f\" y=\"%d\">%.4g %s</text>\n", x + 6, y + bar / 2 + 4, t, unit);
    }
    fprintf(f, "</svg></figure>\n");
    cli_html_legend(f);
}

/* Vertical bars, one per label, for one quantity (cost, energy, time side by side). */
void cli_html_bars(FILE *f, const char *title, int n, const char *const *labels, const double *v,
                   const char *unit, int x0, int w)
{
    double most = 0;
    for (int i = 0; i < n; i++)
        most = fmax(most, isfinite(v[i]) ? v[i] : 0);
    const int h = 220, base = 180, bw = n > 0 ? (w - 40) / n : 0;
    fprintf(f, "<svg x=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"><title>", x0, w, h,
            w, h);
    cli_html_text(f, title);
    fprintf(f, "</title><text x=\"%d\" y=\"16\" text-anchor=\"middle\" font-weight=\"600\">",
            w / 2);
    cli_html_text(f, title);
    fprintf(f, "</text>\n");
    for (int i = 0; i < n; i++) {
        double val = isfinite(v[i]) && v[i] > 0 ? v[i] : 0;
        double hh = most > 0 ? val / most * (base - 40) : 0;
        int x = 20 + i * bw;
        fprintf(f,
                "<rect x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"%s\"><title>%.4g "
                "%s</title></rect>\n",
                x + 6, base - hh, bw - 12, hh > 0 ? hh : 0.5,
                cli_html_part_color[i % CLI_HTML_PARTS], val, unit);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"middle\">%.4g</text>\n", x + bw / 2,
                base - hh - 4, val);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x + bw / 2, base + 16);
        cli_html_text(f, labels[i]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"muted\">%s</text></svg>\n",
            w / 2, base + 34, unit);
}

void cli_html_side_by_side(FILE *f, int n, const char *const *labels, const double *days,
                           const double *cost_musd, const double *mwh)
{
    fprintf(f, "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 960 230\" width=\"960\" "
               "height=\"230\"><title>time, cost and energy side by side</title>\n");
    cli_html_bars(f, "time to train", n, labels, days, "days", 0, 320);
    cli_html_bars(f, "cost", n, labels, cost_musd, "$M", 320, 320);
    cli_html_bars(f, "energy", n, labels, mwh, "MWh", 640, 320);
    fprintf(f, "</svg></figure>\n");
}

/* Lines over chip counts on log2 x and log10 y axes; knee[s] >= 0 marks a point. */
void cli_html_lines(FILE *f, const char *title, int nseries, const char *const *names, int npoints,
                    const double *x, const double *y /* [nseries][npoints], <= 0 = none */,
                    const int *knee, const char *unit)
{
    const int w = 960, h = 320, l = 70, r = 230, t = 24, b = 40;
    double x0 = 1e300, x1 = 0, y0 = 1e300, y1 = 0;
    for (int i = 0; i < npoints; i++) {
        x0 = fmin(x0, x[i]);
        x1 = fmax(x1, x[i]);
    }
    for (int k = 0; k < nseries * npoints; k++)
        if (y[k] > 0 && isfinite(y[k])) {
            y0 = fmin(y0, y[k]);
            y1 = fmax(y1, y[k]);
        }
    if (!(y1 > 0)) {
        y0 = 1;
        y1 = 10;
    }
    double lx0 = log2(x0), lx1 = log2(x1) > log2(x0) ? log2(x1) : log2(x0) + 1;
    double ly0 = floor(log10(y0)), ly1 = ceil(log10(y1));
    if (ly1 <= ly0)
        ly1 = ly0 + 1;
#define PX(v) (l + (log2(v) - lx0) / (lx1 - lx0) * (w - l - r))
#define PY(v) (h - b - (log10(v) - ly0) / (ly1 - ly0) * (h - t - b))
    fprintf(f,
            "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\"><title>",
            w, h, w, h);
    cli_html_text(f, title);
    fprintf(f, "</title>\n<text x=\"%d\" y=\"14\" font-weight=\"600\">", l);
    cli_html_text(f, title);
    fprintf(f, " (%s, log scale)</text>\n", unit);
    for (double d = ly0; d <= ly1 + 1e-9; d += 1) {
        double yy = PY(pow(10, d));
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e6eaef\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                l, w - r, yy, yy, l - 6, yy + 4, pow(10, d));
    }
    for (int i = 0; i < npoints; i++) {
        char lab[32];
        if (x[i] >= 1048576)
            snprintf(lab, sizeof lab, "%gM", x[i] / 1048576);
        else if (x[i] >= 1024)
            snprintf(lab, sizeof lab, "%gK", x[i] / 1024);
        else
            snprintf(lab, sizeof lab, "%g", x[i]);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(x[i]),
                h - b + 16, lab);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">chips</text>\n", (l + w - r) / 2,
            h - 4);
    for (int s = 0; s < nseries; s++) {
        const char *col = cli_html_part_color[s % CLI_HTML_PARTS];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"", col);
        double lastx = 0, lasty = 0;
        for (int i = 0; i < npoints; i++) {
            double v = y[s * npoints + i];
            if (v > 0 && isfinite(v)) {
                fprintf(f, "%.1f,%.1f ", PX(x[i]), PY(v));
                lastx = PX(x[i]);
                lasty = PY(v);
            }
        }
        fprintf(f, "\"/>\n");
        for (int i = 0; i < npoints; i++) {
            double v = y[s * npoints + i];
            if (v > 0 && isfinite(v))
                fprintf(f,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%g chips: "
                        "%.4g %s</title></circle>\n",
                        PX(x[i]), PY(v), col, x[i], v, unit);
        }
        if (knee && knee[s] >= 0 && y[s * npoints + knee[s]] > 0) {
            double kx = PX(x[knee[s]]), ky = PY(y[s * npoints + knee[s]]);
            fprintf(f,
                    "<circle class=\"knee\" cx=\"%.1f\" cy=\"%.1f\" r=\"9\" fill=\"none\" "
                    "stroke=\"%s\" stroke-width=\"2.5\"/><text x=\"%.1f\" y=\"%.1f\" "
                    "text-anchor=\"middle\">knee</text>\n",
                    kx, ky, col, kx, ky - 13);
        }
        if (lastx > 0) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", lastx + 10, lasty + 4, col);
            cli_html_text(f, names[s]);
            fprintf(f, "</text>\n");
        }
    }
#undef PX
#undef PY
    fprintf(f, "</svg></figure>\n");
}

void cli_html_notes(FILE *f, const struct us_result *r)
{
    fprintf(f, "<ul class=\"notes\">\n");
    for (int w = 0; w < r->nwarnings && w < US_MAX_WARNINGS; w++) {
        fprintf(f, "<li>");
        cli_html_text(f, r->warnings[w]);
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
}

/* The system's figures with the source of each (what `ultrasim show SYSTEM` prints). */
void cli_html_sources(FILE *f, const char *system)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    bool ok = m && ctx && us_show(ctx, system, US_FORMAT_TABLE, 0, m, &d) == US_OK;
    if (m)
        fclose(m);
    fprintf(f, "<h3>");
    cli_html_text(f, system);
    fprintf(f, ": every figure and its source</h3>\n");
    if (ok && buf) {
        fprintf(f, "<pre>");
        cli_html_text(f, buf);
        fprintf(f, "</pre>\n");
    } else {
        fprintf(f, "<p class=\"muted\">(the system's sources could not be listed)</p>\n");
    }
    free(buf);
    us_ctx_destroy(ctx);
}

/* The pipeline timeline: the compute lane of each stage from a Chrome trace written by
 * us_run (one event per line), forward and backward blocks merged per micro-batch. */
void cli_html_timeline(FILE *f, const char *trace_path, double step_s)
{
    FILE *t = fopen(trace_path, "r");
    if (!t) {
        fprintf(f, "<p class=\"muted\">(no trace: the pipeline timeline is not shown)</p>\n");
        return;
    }
    enum { MAXB = 6000 };
    struct blk {
        int pid;
        char dir;
        int mb;
        double ts, end;
    } *b = malloc(MAXB * sizeof *b);
    int nb = 0, stages = 0;
    double tmax = 0;
    char line[1024];
    while (b && fgets(line, sizeof line, t)) {
        if (!strstr(line, "\"ph\":\"X\""))
            continue;
        const char *nm = strstr(line, "\"name\":\"");
        const char *pp = strstr(line, "\"pid\":");
        const char *tp = strstr(line, "\"tid\":");
        const char *ts = strstr(line, "\"ts\":");
        const char *du = strstr(line, "\"dur\":");
        const char *mb = strstr(line, "\"mb\":");
        if (!nm || !pp || !tp || !ts || !du || !mb)
            continue;
        int pid = atoi(pp + 6), tid = atoi(tp + 6), m = atoi(mb + 5);
        double s = atof(ts + 5), d = atof(du + 6);
        char dir = nm[8];
        if (tid != 0 || (dir != 'F' && dir != 'B'))
            continue;
        stages = pid + 1 > stages ? pid + 1 : stages;
        tmax = fmax(tmax, s + d);
        /* merge into the stage's last block when it continues the same micro-batch */
        int k = nb - 1;
        while (k >= 0 && b[k].pid != pid)
            k--;
        if (k >= 0 && nb - k < 64 && b[k].dir == dir && b[k].mb == m &&
            s - b[k].end < 1e-3 * d + 1) {
            b[k].end = fmax(b[k].end, s + d);
            continue;
        }
        if (nb < MAXB)
            b[nb++] = (struct blk){pid, dir, m, s, s + d};
    }
    fclose(t);
    if (!b || nb == 0 || stages == 0) {
        free(b);
        fprintf(f, "<p class=\"muted\">(the trace holds no compute events)</p>\n");
        return;
    }
    const int w = 960, l = 70, lane = stages > 32 ? 8 : 18, top = 10;
    int h = top + stages * (lane + 4) + 36;
    fprintf(f,
            "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\"><title>pipeline timeline of one step</title>\n",
            w, h, w, h);
    for (int s = 0; s < stages; s++)
        if (lane >= 12 || s % 4 == 0)
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">stage %d</text>\n", l - 6,
                    top + s * (lane + 4) + lane - 3, s);
    for (int i = 0; i < nb; i++) {
        double x = l + b[i].ts / tmax * (w - l - 10),
               wd = (b[i].end - b[i].ts) / tmax * (w - l - 10);
        fprintf(f,
                "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>%s "
                "mb %d</title></rect>\n",
                x, top + b[i].pid * (lane + 4), wd > 0.3 ? wd : 0.3, lane,
                b[i].dir == 'F' ? "#3b7dd8" : "#e3843b", b[i].dir == 'F' ? "forward" : "backward",
                b[i].mb);
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" "
            "text-anchor=\"end\">%.4g s (step %.4g s)</text>\n",
            l, h - 12, w - 10, h - 12, tmax / 1e6, step_s);
    fprintf(f, "</svg></figure>\n<p class=\"legend\"><span><i class=\"sw\" "
               "style=\"background:#3b7dd8\"></i>forward</span><span><i class=\"sw\" "
               "style=\"background:#e3843b\"></i>backward</span> (compute lane of each stage; "
               "gaps are the bubble and exposed communication; open the trace in "
               "ui.perfetto.dev for every lane)</p>\n");
    free(b);
}

void cli_html_power(FILE *f, const char *trace_path)
{
    FILE *t = fopen(trace_path, "r");
    if (!t) {
        fprintf(f, "<p class=\"muted\">(no trace: the power over the step is not shown)</p>\n");
        return;
    }
    enum { MAXP = 4000 };
    double *ts = malloc(MAXP * sizeof *ts), *mw = malloc(MAXP * sizeof *mw);
    int n = 0;
    char line[1024];
    while (ts && mw && fgets(line, sizeof line, t)) {
        if (!strstr(line, "\"name\":\"facility power\",\"ph\":\"C\""))
            continue;
        const char *a = strstr(line, "\"ts\":"), *v = strstr(line, "\"MW\":");
        if (!a || !v)
            continue;
        double x = atof(a + 5), y = atof(v + 5);
        if (!isfinite(x) || !isfinite(y))
            continue;
        if (n < MAXP) {
            ts[n] = x;
            mw[n++] = y;
        } else { /* past the cap: the last point keeps the peak of what it stands for */
            ts[n - 1] = x;
            mw[n - 1] = fmax(mw[n - 1], y);
        }
    }
    fclose(t);
    if (!ts || !mw || n < 2) {
        free(ts);
        free(mw);
        fprintf(f, "<p class=\"muted\">(the trace holds no power counter)</p>\n");
        return;
    }
    double t0 = ts[0], t1 = ts[n - 1], hi = mw[0], lo = mw[0];
    for (int i = 1; i < n; i++) {
        hi = fmax(hi, mw[i]);
        lo = fmin(lo, mw[i]);
    }
    const int w = 960, h = 200, l = 70, top = 10, bot = 30;
    double span = t1 > t0 ? t1 - t0 : 1.0, ymax = hi > 0 ? hi * 1.05 : 1.0;
    fprintf(f,
            "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\"><title>facility power over one step</title>\n<polyline fill=\"none\" "
            "stroke=\"#c0392b\" stroke-width=\"1.2\" points=\"",
            w, h, w, h);
    for (int i = 0; i < n; i++) { /* a step line: the level holds until the next change */
        double x = l + (ts[i] - t0) / span * (w - l - 10);
        double y = top + (1.0 - mw[i] / ymax) * (h - top - bot);
        if (i > 0)
            fprintf(f, "%.2f,%.2f ", x, top + (1.0 - mw[i - 1] / ymax) * (h - top - bot));
        fprintf(f, "%.2f,%.2f ", x, y);
    }
    fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g MW</text>\n", l - 6,
            top + 10, ymax);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", l - 6, h - bot);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g "
            "s</text>\n</svg></figure>\n",
            l, h - 12, w - 10, h - 12, span / 1e6);
    fprintf(f,
            "<p class=\"legend\">facility power of the whole job (chips at their phase levels, "
            "host, network, PUE; docs/MODEL.md 7.6): peak %.4g MW, lowest %.4g MW, swing %.4g "
            "MW</p>\n",
            hi, lo, hi - lo);
    free(ts);
    free(mw);
}

/* The memory of the most loaded stage, stacked against the capacity. */
void cli_html_memory(FILE *f, const struct us_memory *m)
{
    const char *names[] = {"weights", "grads", "optimizer", "activations", "buffers", "reserve"};
    double v[] = {m->weights_B,     m->grads_B,        m->optimizer_B,
                  m->activations_B, m->comm_buffers_B, m->reserve_B};
    const int w = 900, l = 170, bar = 30;
    double cap = fmax(m->capacity_B, m->peak_B);
    fprintf(f,
            "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 %d 90\" width=\"%d\" "
            "height=\"90\"><title>memory per chip on stage %d</title>\n",
            w, w, m->stage);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">stage %d (peak)</text>\n", l - 8, 30,
            m->stage);
    double x = l;
    for (int i = 0; i < 6; i++) {
        double wd = cap > 0 ? v[i] / cap * (w - l - 20) : 0;
        if (wd <= 0)
            continue;
        fprintf(f,
                "<rect x=\"%.2f\" y=\"10\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>%s "
                "%.1f GiB</title></rect>\n",
                x, wd, bar, cli_html_part_color[i], names[i], v[i] / 1073741824.0);
        x += wd;
    }
    double cx = l + (cap > 0 ? m->capacity_B / cap * (w - l - 20) : 0);
    fprintf(f,
            "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"4\" y2=\"46\" stroke=\"#1d232b\" "
            "stroke-width=\"2\"/><text x=\"%.2f\" y=\"62\" text-anchor=\"end\">capacity %.1f "
            "GiB</text>\n</svg></figure>\n<p class=\"legend\">",
            cx, cx, cx, m->capacity_B / 1073741824.0);
    for (int i = 0; i < 6; i++)
        fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s %.1f GiB</span>",
                cli_html_part_color[i], names[i], v[i] / 1073741824.0);
    fprintf(f, "</p>\n<p class=\"muted\">The public result carries the most loaded stage; the "
               "others hold no more (docs/MODEL.md 2.4).</p>\n");
}

int cli_common_opt(const char *cmd, int argc, char **argv, int *i, struct cli_sets *sets,
                   enum us_format *fmt, bool *html)
{
    if (cli_html_opt(argc, argv, i, html))
        return 1;
    int m = cli_set_opt(cmd, argc, argv, i, sets);
    return m != 0 ? m : cli_format_opt(cmd, argc, argv, i, fmt);
}

int cli_html_opt(int argc, char **argv, int *i, bool *html)
{
    const char *a = argv[*i];
    if (strcmp(a, "--format=html") == 0) {
        *html = true;
        return 1;
    }
    if (strcmp(a, "--format") == 0 && *i + 1 < argc && strcmp(argv[*i + 1], "html") == 0) {
        ++*i;
        *html = true;
        return 1;
    }
    return 0;
}
