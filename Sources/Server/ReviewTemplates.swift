/// The review pages' Mustache templates, compiled into the binary so the UI works offline and cannot be
/// changed on disk. Every value is written with `{{name}}`, which HTML-escapes it; the triple-brace and `&`
/// forms that skip escaping are never used (a test checks).
enum ReviewTemplates {
    static let all: [String: String] = [
        "header": header, "footer": footer, "login": login, "worklist": worklist, "case": casePage,
        "dashboard": dashboard, "users": users, "alerts": alerts, "message": message,
    ]

    static let header = #"""
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>{{title}} · dsa-triage review</title>
    <link rel="stylesheet" href="/review-assets/review.css">
    <script src="/review-assets/review.js" defer></script>
    </head>
    <body data-page="{{page}}">
    <header class="top">
    <span class="brand">dsa-triage review</span>
    {{#user}}
    <nav><a href="/worklist">Worklist</a> <a href="/dashboard">Dashboard</a>{{#isAdmin}} <a href="/admin/users">Users</a> <a href="/admin/alerts">Alerts</a>{{/isAdmin}}</nav>
    <span class="who" id="who">{{name}} · {{role}}</span>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="logout">Log out</button></form>
    {{/user}}
    </header>
    {{#hasAlerts}}
    <div class="alert-banner" role="alert" id="alert-banner">
    <strong>Open monitoring alerts</strong>
    <ul>
    {{#alerts}}<li><span class="kind">{{kind}}</span> · <span class="scope">{{scope}}</span>: {{message}} <span class="when">(since {{opened}})</span></li>
    {{/alerts}}
    </ul>
    {{#user.isAdmin}}<a href="/admin/alerts">Review and acknowledge</a>{{/user.isAdmin}}
    </div>
    {{/hasAlerts}}
    {{#flash}}<p class="flash" role="status" id="flash">{{flash}}</p>{{/flash}}
    <main>

    """#

    static let footer = #"""
    </main>
    <footer><p>Decision support only: every model result needs a person's review. No patient names or IDs are kept or shown here.</p></footer>
    </body>
    </html>

    """#

    static let login = #"""
    {{> header}}
    <h1>Sign in</h1>
    {{#error}}<p class="error" role="alert" id="login-error">{{error}}</p>{{/error}}
    <form method="post" action="/login" class="login" id="login-form">
    <input type="hidden" name="csrf" value="{{loginCSRF}}">
    <input type="hidden" name="next" value="{{next}}">
    <label for="name">Name</label> <input type="text" id="name" name="name" autocomplete="username" required autofocus value="{{attemptedName}}">
    <label for="password">Password</label> <input type="password" id="password" name="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
    </form>
    {{> footer}}
    """#

    static let worklist = #"""
    {{> header}}
    <h1>Worklist</h1>
    <section class="counts" aria-label="Counts">
    <div class="count"><span class="n" id="count-manual">{{counts.pendingManualReview}}</span> pending manual review</div>
    <div class="count"><span class="n" id="count-audit">{{counts.pendingAuditSamples}}</span> pending audit samples</div>
    <div class="count"><span class="n" id="count-reviewed">{{counts.reviewed}}</span> reviewed</div>
    <div class="count"><span class="n" id="count-disagreements">{{counts.disagreements}}</span> disagreements</div>
    </section>
    <form method="get" action="/worklist" class="filters" id="filters">
    <label>State <select name="state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></label>
    <label>Decision <select name="decision"><option value="">any</option>{{#decisions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/decisions}}</select></label>
    <label>Site <select name="site"><option value="">any</option>{{#sites}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/sites}}</select></label>
    <label>Scanner <select name="scanner"><option value="">any</option>{{#scanners}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/scanners}}</select></label>
    <label>From <input type="date" name="from" value="{{from}}"></label>
    <label>To <input type="date" name="to" value="{{to}}"></label>
    <button type="submit">Filter</button>
    </form>
    <p class="keys">Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens the case.</p>
    <table class="worklist" id="worklist">
    <thead><tr><th>Case</th><th>Why listed</th><th>Decision</th><th>P(blocked)</th><th>Decided (UTC)</th><th>Site</th><th>Scanner</th></tr></thead>
    <tbody>
    {{#rows}}<tr data-href="{{href}}" class="case-row decision-{{decision}}" id="case-{{jobID}}">
    <td><a href="{{href}}">Case {{jobID}}</a></td><td>{{reason}}</td><td class="decision">{{decisionLabel}}</td><td class="num">{{pBlocked}}</td><td>{{decided}}</td><td>{{site}}</td><td>{{scanner}}</td>
    </tr>
    {{/rows}}
    </tbody>
    </table>
    {{^rows}}<p class="empty" id="empty">No case matches these filters.</p>{{/rows}}
    {{> footer}}
    """#

    static let casePage = #"""
    {{> header}}
    <h1>Case {{jobID}} <span class="decision decision-{{decision}}">{{decisionLabel}}</span></h1>
    <p class="nav"><a href="/worklist">← Worklist</a>{{#viewerURL}} · <a href="{{viewerURL}}" id="viewer-link" target="_blank" rel="noopener noreferrer">Open the study in the viewer</a>{{/viewerURL}}</p>
    <div class="case-grid">
    <section class="image">
    {{#imageURL}}<img src="{{imageURL}}" alt="Model input image of case {{jobID}}" id="model-image">{{/imageURL}}
    {{^imageURL}}<p class="empty">No model image was kept for this case.</p>{{/imageURL}}
    <p>Frames used: <span id="frames">{{frames}}</span>{{#frameCount}} of {{frameCount}}{{/frameCount}}</p>
    </section>
    <section class="facts">
    {{#chart}}
    <h2>P(blocked)</h2>
    <svg class="pchart" id="pchart" viewBox="0 0 {{width}} 70" width="{{width}}" height="70" role="img" aria-label="P(blocked) {{pBlocked}} against the threshold and review band">
    <line x1="{{axisStart}}" y1="35" x2="{{axisEnd}}" y2="35" stroke="#444" stroke-width="1"/>
    {{#band}}<rect x="{{x}}" y="22" width="{{width}}" height="26" fill="#f5d97a" fill-opacity="0.6"><title>review band {{label}}</title></rect>{{/band}}
    {{#threshold}}<line x1="{{x}}" y1="14" x2="{{x}}" y2="56" stroke="#b00020" stroke-width="2"><title>threshold {{label}}</title></line>{{/threshold}}
    {{#ticks}}<line x1="{{x}}" y1="35" x2="{{x}}" y2="41" stroke="#444"/><text x="{{x}}" y="54" font-size="10" text-anchor="middle" fill="#444">{{label}}</text>
    {{/ticks}}<circle cx="{{markerX}}" cy="35" r="7" fill="#1f4e9c"><title>P(blocked) {{pBlocked}}</title></circle>
    <text x="{{markerX}}" y="18" font-size="12" text-anchor="middle" fill="#1f4e9c">{{pBlocked}}</text>
    </svg>
    <p class="legend">Blue: this case. Red line: threshold{{#threshold}} {{label}}{{/threshold}}. Yellow: review band{{#band}} {{label}}{{/band}}.</p>
    {{/chart}}
    <h2>Decision</h2>
    <p>{{decisionLabel}}{{#listedBecause}} · on the worklist as {{listedBecause}}{{/listedBecause}} · decided {{decided}} UTC</p>
    {{#hasReasons}}<ul class="reasons">{{#reasons}}<li>{{.}}</li>{{/reasons}}</ul>{{/hasReasons}}
    <h2>Equipment and protocol</h2>
    <table class="fields">
    {{#fields}}<tr><th>{{label}}</th><td>{{value}}</td></tr>
    {{/fields}}
    </table>
    </section>
    </div>
    <section class="verdicts" id="verdicts">
    <h2>Verdicts</h2>
    {{#disagreement}}<p class="disagreement" id="disagreement">Reviewers disagree on this case.</p>{{/disagreement}}
    {{#hasVerdicts}}<ol class="verdict-list">
    {{#verdicts}}<li class="verdict"><strong>{{verdictLabel}}</strong> by <span class="by">{{userName}}</span>, {{recorded}} UTC{{#comment}}: <q class="comment">{{comment}}</q>{{/comment}}{{#verified}} · verified SR sent{{/verified}}</li>
    {{/verdicts}}</ol>{{/hasVerdicts}}
    {{^hasVerdicts}}<p class="empty">No verdict yet.</p>{{/hasVerdicts}}
    <form method="post" action="/cases/{{jobID}}/verdict" id="verdict-form" class="verdict-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <fieldset><legend>Your verdict</legend>
    <label><input type="radio" name="verdict" value="patent" id="verdict-patent"> <kbd>p</kbd> Patent</label>
    <label><input type="radio" name="verdict" value="blocked" id="verdict-blocked"> <kbd>b</kbd> Blocked</label>
    <label><input type="radio" name="verdict" value="non_diagnostic" id="verdict-non-diagnostic"> <kbd>n</kbd> Non-diagnostic</label>
    </fieldset>
    <label for="comment"><kbd>c</kbd> Comment (optional)</label>
    <input type="text" name="comment" id="comment" maxlength="{{maxComment}}" autocomplete="off">
    <button type="submit" id="submit-verdict">Record verdict <kbd>Enter</kbd></button>
    <p class="hint" id="verdict-hint" hidden>Choose patent (p), blocked (b) or non-diagnostic (n) first.</p>
    </form>
    </section>
    {{> footer}}
    """#

    static let dashboard = #"""
    {{> header}}
    <h1>Dashboard</h1>
    <section class="counts" aria-label="Counts">
    <div class="count"><span class="n" id="dash-manual">{{counts.pendingManualReview}}</span> pending manual review</div>
    <div class="count"><span class="n" id="dash-audit">{{counts.pendingAuditSamples}}</span> pending audit samples</div>
    <div class="count"><span class="n" id="dash-reviewed">{{counts.reviewed}}</span> reviewed</div>
    <div class="count"><span class="n" id="dash-disagreements">{{counts.disagreements}}</span> disagreements</div>
    </section>
    {{#sourceError}}<p class="error" role="alert">The monitoring figures are not available: {{sourceError}}</p>{{/sourceError}}
    {{#hasSource}}
    <p class="exports">Export: <a href="/dashboard/export.json" id="export-json">JSON</a> · <a href="/dashboard/export.csv" id="export-csv">CSV</a>{{#generated}} · figures of {{generated}} UTC{{/generated}}</p>
    {{/hasSource}}
    {{#hasTiles}}<section class="tiles">{{#tiles}}<div class="tile"><div class="label">{{label}}</div><div class="value">{{value}}</div>{{#detail}}<div class="detail">{{detail}}</div>{{/detail}}</div>{{/tiles}}</section>{{/hasTiles}}
    {{#charts}}
    <section class="chart"><h2>{{title}}</h2>
    <svg viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="{{title}}">
    <rect x="0" y="0" width="{{width}}" height="{{height}}" fill="#fff" stroke="#ccc"/>
    {{#gridLines}}<line x1="{{x1}}" y1="{{y}}" x2="{{x2}}" y2="{{y}}" stroke="#eee"/><text x="4" y="{{y}}" font-size="10" fill="#666">{{label}}</text>
    {{/gridLines}}{{#reference}}<line x1="{{x1}}" y1="{{y}}" x2="{{x2}}" y2="{{y}}" stroke="#b00020" stroke-dasharray="4 3"><title>{{label}}</title></line>{{/reference}}
    {{#lines}}{{#band}}<polygon points="{{band}}" fill="{{color}}" fill-opacity="0.15"/>{{/band}}<polyline points="{{points}}" fill="none" stroke="{{color}}" stroke-width="2"><title>{{name}}</title></polyline>
    {{/lines}}</svg>
    <p class="legend">{{#lines}}<span class="key key-{{index}}">{{name}}</span> {{/lines}}{{#xStart}}· {{xStart}} to {{xEnd}}{{/xStart}}</p>
    </section>
    {{/charts}}
    {{#tables}}
    <section><h2>{{title}}</h2><table class="figures"><thead><tr>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead>
    <tbody>{{#rows}}<tr>{{#cells}}<td>{{.}}</td>{{/cells}}</tr>
    {{/rows}}</tbody></table></section>
    {{/tables}}
    {{> footer}}
    """#

    static let users = #"""
    {{> header}}
    <h1>Users</h1>
    <table class="users" id="users">
    <thead><tr><th>Name</th><th>Role</th><th>State</th><th>Created (UTC)</th><th></th></tr></thead>
    <tbody>
    {{#accounts}}<tr id="user-{{name}}"><td>{{name}}</td><td>{{role}}</td><td>{{state}}</td><td>{{created}}</td>
    <td><form method="post" action="/admin/users/state" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><input type="hidden" name="disabled" value="{{toggleValue}}"><button type="submit">{{toggleLabel}}</button></form></td></tr>
    {{/accounts}}
    </tbody>
    </table>
    <h2>Add a user</h2>
    {{#error}}<p class="error" role="alert" id="users-error">{{error}}</p>{{/error}}
    <form method="post" action="/admin/users" id="add-user">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="new-name">Name</label> <input type="text" id="new-name" name="name" required maxlength="64" pattern="[A-Za-z0-9._-]+">
    <label for="new-role">Role</label> <select id="new-role" name="role"><option value="reviewer">reviewer</option><option value="admin">admin</option></select>
    <label for="new-password">Password (at least {{minPassword}} characters)</label> <input type="password" id="new-password" name="password" required minlength="{{minPassword}}" autocomplete="new-password">
    <button type="submit">Add</button>
    </form>
    {{> footer}}
    """#

    static let alerts = #"""
    {{> header}}
    <h1>Monitoring alerts</h1>
    {{^hasRecords}}<p class="empty">No open or acknowledged alert.</p>{{/hasRecords}}
    {{#records}}
    <section class="alert-record state-{{state}}" id="alert-{{id}}">
    <h2>{{kind}} · {{scope}} <span class="state">{{state}}</span></h2>
    <p>{{message}} (value {{value}}, limit {{limit}}); opened {{opened}} UTC, updated {{updated}} UTC.</p>
    {{#acknowledgedBy}}<p>Acknowledged by {{acknowledgedBy}}{{#note}}: <q>{{note}}</q>{{/note}}</p>{{/acknowledgedBy}}
    {{#isOpen}}<form method="post" action="/admin/alerts/{{id}}/acknowledge" class="ack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="note-{{id}}">Note</label> <input type="text" id="note-{{id}}" name="note" required maxlength="2000">
    <button type="submit">Acknowledge</button>
    </form>{{/isOpen}}
    </section>
    {{/records}}
    {{> footer}}
    """#

    static let message = #"""
    {{> header}}
    <h1>{{heading}}</h1>
    <p class="message" id="message">{{text}}</p>
    <p><a href="{{back}}">{{backLabel}}</a></p>
    {{> footer}}
    """#
}
