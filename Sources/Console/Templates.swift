import Foundation

/// The console's Mustache templates (HTML-escaped `{{x}}` everywhere; `{{{x}}}` only for HTML the server built).
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "dashboard": dashboard, "audit": audit, "seals": seals, "users": users,
        "organisations": organisations, "quarantine": quarantine, "verify": verify, "error": error,
        "stamp": stamp, "request": request, "approvals": approvals,
    ]

    static let layout = """
    <!doctype html>
    <html lang="{{lang}}">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} · {{t.app}}</title>
    <link rel="stylesheet" href="/static/console.css">
    <script src="/static/console.js" defer></script>
    </head>
    <body data-page="{{page}}">
    <header>
      <span class="brand">{{t.app}}</span>
      {{#user}}
      <nav>{{#nav}}<a href="{{href}}" id="nav-{{id}}" class="{{#active}}active{{/active}}">{{label}}</a>{{/nav}}</nav>
      <span class="who">{{t.signed_in_as}} <b id="who">{{id}}</b> ({{roles}})</span>
      <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button id="logout">{{t.logout}}</button></form>
      {{/user}}
      <a class="lang" id="lang-switch" href="/lang?to={{other_lang}}">{{t.lang_switch}}</a>
    </header>
    <main>
    <h1>{{title}}</h1>
    {{#flash}}<p class="flash" id="flash">{{flash}}</p>{{/flash}}
    {{{body}}}
    </main>
    <meta name="csrf" content="{{csrf}}">
    </body>
    </html>
    """

    static let login = """
    <form method="post" action="/login" class="card" id="login-form">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <label>{{t.user_id}} <input name="user" id="user" autocomplete="username" required></label>
      <label>{{t.password}} <input name="password" id="password" type="password" autocomplete="current-password" required></label>
      <button type="submit" id="login-button">{{t.login}}</button>
    </form>
    """

    static let error = """
    <p class="error" id="error">{{message}}</p>
    {{#detail}}<p>{{detail}}</p>{{/detail}}
    <p><a href="/">{{t.back}}</a></p>
    """

    static let dashboard = """
    <section>
    <h2>{{t.pipelines}}</h2>
    {{^pipelines}}<p>{{t.no_pipelines}}</p>{{/pipelines}}
    {{#has_pipelines}}
    <table id="counts"><thead><tr><th>{{t.pipeline}}</th><th>{{t.inbox}}</th><th>{{t.work}}</th><th>{{t.outbox}}</th><th>{{t.quarantined}}</th></tr></thead>
    <tbody>{{#pipelines}}<tr data-pipeline="{{name}}"><td>{{name}}</td><td class="n-inbox">{{inbox}}</td><td class="n-work">{{work}}</td><td class="n-outbox">{{outbox}}</td><td class="n-quarantine">{{quarantine}}</td></tr>{{/pipelines}}</tbody></table>
    {{/has_pipelines}}
    </section>
    <section>
    <h2>{{t.latest_uses}} <span id="live" class="live">●</span></h2>
    <table id="uses"><thead><tr><th>{{t.time}}</th><th>{{t.seal}}</th><th>{{t.user}}</th><th>{{t.outcome}}</th><th>{{t.document_hash}}</th><th>{{t.detail}}</th></tr></thead>
    <tbody>{{#uses}}<tr data-seq="{{seq}}"><td>{{time}}</td><td>{{seal}}</td><td>{{actor}}</td><td>{{outcome}}</td><td class="hash">{{sha}}</td><td>{{detail}}</td></tr>{{/uses}}</tbody></table>
    </section>
    <section>
    <h2>{{t.history}}</h2>
    {{{chart}}}
    </section>
    """

    static let audit = """
    {{#own_only}}<p class="note">{{t.audit_scope_own}}</p>{{/own_only}}
    <form method="get" action="/audit" class="filters" id="audit-filter">
      <label>{{t.seal}} <input name="seal" value="{{q.seal}}"></label>
      <label>{{t.user}} <input name="user" value="{{q.user}}"></label>
      <label>{{t.document_hash}} <input name="sha256" value="{{q.sha256}}" size="20"></label>
      <label>{{t.since}} <input name="since" type="date" value="{{q.since}}"></label>
      <label>{{t.until}} <input name="until" type="date" value="{{q.until}}"></label>
      <label>{{t.outcome}} <select name="outcome"><option value="">{{t.any}}</option>{{#outcomes}}<option value="{{v}}" {{#sel}}selected{{/sel}}>{{v}}</option>{{/outcomes}}</select></label>
      <button>{{t.filter}}</button>
      <a href="/audit/export?format=csv&{{query}}" id="export-csv">{{t.export_csv}}</a>
      <a href="/audit/export?format=json&{{query}}" id="export-json">{{t.export_json}}</a>
    </form>
    <p>{{count}} {{t.records}} · {{t.chain}}: <span id="chain">{{chain}}</span></p>
    <table id="audit"><thead><tr><th>#</th><th>{{t.time}}</th><th>{{t.user}}</th><th>{{t.action}}</th><th>{{t.seal}}</th><th>{{t.outcome}}</th><th>{{t.detail}}</th></tr></thead>
    <tbody>{{#records}}<tr><td>{{seq}}</td><td>{{time}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{seal}}</td><td class="o-{{outcome}}">{{outcome}}{{#reason}} ({{reason}}){{/reason}}</td><td>{{detail}}</td></tr>{{/records}}</tbody></table>
    """

    static let seals = """
    <table id="seals"><thead><tr><th>{{t.id}}</th><th>{{t.name}}</th><th>{{t.kind}}</th><th>{{t.status}}</th><th>{{t.valid_until}}</th><th>{{t.grants}}</th><th></th></tr></thead>
    <tbody>{{#seals}}<tr data-seal="{{id}}"><td>{{id}}</td><td>{{name}}</td><td>{{kind}}</td><td class="status">{{status}}</td><td>{{until}}</td><td>{{grants}}</td>
    <td>{{^revoked}}<form method="post" action="/seals/status" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seal" value="{{id}}">
    {{#active}}<button name="status" value="suspended" id="suspend-{{id}}">{{t.suspend}}</button>{{/active}}{{^active}}<button name="status" value="active" id="activate-{{id}}">{{t.reactivate}}</button>{{/active}}
    <button name="status" value="revoked" id="revoke-{{id}}" class="danger">{{t.revoke}}</button></form>{{/revoked}}</td></tr>{{/seals}}</tbody></table>
    <h2>{{t.register_seal}}</h2>
    <form method="post" action="/seals/register" class="card" id="register-seal">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <label>{{t.id}} <input name="id" required></label>
      <label>{{t.name}} <input name="name" required></label>
      <label>{{t.kind}} <select name="kind">{{#kinds}}<option>{{.}}</option>{{/kinds}}</select></label>
      <label>{{t.token_uri}} <input name="token-uri" required size="50"></label>
      <label>{{t.appearance}} <textarea name="design" rows="3" cols="64" required placeholder='{"kind": "round", "organisation": "…", "name": "合同专用章"}'></textarea></label>
      <label>{{t.certificate_pem}} <textarea name="certificate" rows="6" cols="64" required></textarea></label>
      <button>{{t.register}}</button>
    </form>
    """

    static let users = """
    <table id="users"><thead><tr><th>{{t.id}}</th><th>{{t.name}}</th><th>{{t.organisation}}</th><th>{{t.roles}}</th><th>{{t.status}}</th><th></th></tr></thead>
    <tbody>{{#users}}<tr data-user="{{id}}"><td>{{id}}</td><td>{{name}}</td><td>{{org}}</td><td>{{roles}}</td><td class="status">{{status}}{{#locked}} · <b class="locked">{{t.locked}}</b>{{/locked}}</td>
    <td>{{#locked}}<form method="post" action="/users/unlock" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="user" value="{{id}}"><button id="unlock-{{id}}">{{t.unlock}}</button></form>{{/locked}}
    <form method="post" action="/users/status" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="user" value="{{id}}">{{#active}}<button name="status" value="disabled">{{t.disable}}</button>{{/active}}{{^active}}<button name="status" value="active">{{t.enable}}</button>{{/active}}</form></td></tr>{{/users}}</tbody></table>
    """

    static let organisations = """
    <table id="organisations"><thead><tr><th>{{t.id}}</th><th>{{t.name}}</th><th>{{t.trust_anchors}}</th></tr></thead>
    <tbody>{{#orgs}}<tr><td>{{id}}</td><td>{{name}}</td><td>{{#anchors}}<div>{{.}}</div>{{/anchors}}</td></tr>{{/orgs}}</tbody></table>
    <h2>{{t.create_organisation}}</h2>
    <form method="post" action="/organisations" class="card" id="create-org">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <label>{{t.id}} <input name="id" required></label>
      <label>{{t.name}} <input name="name" required></label>
      <button>{{t.create}}</button>
    </form>
    """

    static let quarantine = """
    {{^items}}<p>{{t.no_quarantine}}</p>{{/items}}
    <table id="quarantine"><thead><tr><th>{{t.pipeline}}</th><th>{{t.document}}</th><th>{{t.reason}}</th><th>{{t.next_step}}</th><th>{{t.time}}</th><th></th></tr></thead>
    <tbody>{{#items}}<tr><td>{{pipeline}}</td><td>{{name}}</td><td><b>{{code}}</b> {{message}}</td><td>{{next}}</td><td>{{time}}</td>
    <td><a href="/quarantine/download?pipeline={{pipeline_q}}&amp;name={{name_q}}">{{t.download}}</a>
    <form method="post" action="/quarantine/requeue" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="pipeline" value="{{pipeline}}"><input type="hidden" name="name" value="{{name}}"><button>{{t.requeue}}</button></form></td></tr>{{/items}}</tbody></table>
    """

    static let verify = """
    <p>{{t.verify_intro}}</p>
    <form id="verify-form" class="card" data-upload="/verify">
      <label>{{t.upload_pdf}} <input type="file" id="verify-file" accept="application/pdf"></label>
      <button type="submit" id="verify-button">{{t.verify_button}}</button>
    </form>
    <p class="error" id="verify-error" hidden></p>
    <pre id="verify-report"></pre>
    <a id="verify-json" hidden download="verify-report.json">{{t.verify_json}}</a>
    """

    static let stamp = """
    <p>{{t.stamp_intro}}</p>
    <form id="stamp-upload" class="card" data-upload="/stamp/upload">
      <label>{{t.upload_pdf}} <input type="file" id="stamp-file" accept="application/pdf"></label>
      <button type="submit" id="stamp-upload-button">{{t.upload}}</button>
    </form>
    <p class="error" id="stamp-error" hidden></p>
    {{#has_inbox}}<h2>{{t.pick_inbox}}</h2>
    <table id="inbox-files"><tbody>{{#inbox}}<tr><td>{{pipeline}}</td><td>{{name}}</td><td><form method="post" action="/stamp/pick" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="pipeline" value="{{pipeline}}"><input type="hidden" name="name" value="{{name}}"><button>{{t.pick}}</button></form></td></tr>{{/inbox}}</tbody></table>{{/has_inbox}}
    <h2>{{t.my_requests}}</h2>
    <table id="requests"><thead><tr><th>{{t.document}}</th><th>{{t.seal}}</th><th>{{t.status}}</th><th>{{t.time}}</th></tr></thead>
    <tbody>{{#requests}}<tr><td><a href="/stamp/r/{{id}}">{{name}}</a></td><td>{{seal}}</td><td class="status">{{status_label}}</td><td>{{time}}</td></tr>{{/requests}}</tbody></table>
    """

    static let request = """
    <p><b>{{t.document}}</b>: {{name}} · <b>SHA-256</b> <span class="hash" id="req-sha">{{sha}}</span> · {{pages}} {{t.pages}} · <b>{{t.status}}</b>: <span id="req-status">{{status_label}}</span></p>
    {{#has_reason}}<p class="error">{{t.reason}}: {{reason}}</p>{{/has_reason}}
    {{#editable}}<p>{{t.place_hint}}</p>{{/editable}}
    <div class="pages">{{#page_list}}<figure><img class="page-img{{#editable}} clickable{{/editable}}" id="page-{{n}}" data-page="{{n}}" data-w="{{w}}" data-h="{{h}}" src="/stamp/r/{{id}}/page/{{n}}.png{{#placed}}?seal=1&amp;v={{v}}{{/placed}}" alt="{{t.page}} {{n}}"><figcaption>{{t.page}} {{n}}</figcaption></figure>{{/page_list}}</div>
    {{#editable}}
    <form method="post" action="/stamp/r/{{id}}/place" id="place-form" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="page" id="place-page"><input type="hidden" name="x" id="place-x"><input type="hidden" name="y" id="place-y">
    </form>
    {{#placed}}<form method="post" action="/stamp/r/{{id}}/submit" class="card" id="submit-form">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <p>{{t.position}}: {{t.page}} {{place_page}}, x={{place_x}} pt, y={{place_y}} pt</p>
      <label>{{t.seal}} <select name="seal">{{#seals}}<option value="{{id}}">{{name}} ({{id}})</option>{{/seals}}</select></label>
      <label>{{t.purpose}} <input name="purpose" id="purpose" required></label>
      <button id="submit-request">{{t.submit_request}}</button>
    </form>{{/placed}}
    {{/editable}}
    """

    static let approvals = """
    {{^requests}}<p>{{t.no_requests}}</p>{{/requests}}
    {{#requests}}<article class="card request" data-request="{{id}}">
      <img class="thumb" src="/stamp/r/{{id}}/page/{{place_page}}.png?seal=1&amp;v={{v}}" alt="{{t.preview}}">
      <div>
      <p><b>{{t.document}}</b>: {{name}} ({{pages}} {{t.pages}})</p>
      <p><b>SHA-256</b>: <span class="hash">{{sha}}</span></p>
      <p><b>{{t.requester}}</b>: {{requester}} · <b>{{t.seal}}</b>: {{seal}} · <b>{{t.purpose}}</b>: {{purpose}} · <b>{{t.status}}</b>: <span class="status">{{status_label}}</span></p>
      <p><a href="/stamp/r/{{id}}/document.pdf">{{t.download_document}}</a></p>
      {{#pending}}
      <p>{{t.approve_command}}: <code>{{command}}</code></p>
      <form class="inline approve-form" data-upload="/approvals/{{id}}/approve">
        <label>{{t.approve_upload}} <input type="file" class="manifest-file" accept="application/json"></label>
        <button type="submit" class="approve-button">{{t.approve}}</button>
      </form>
      <p class="error approve-error" hidden></p>
      <form method="post" action="/approvals/{{id}}/reject" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}"><label>{{t.reason}} <input name="reason" required></label><button class="danger">{{t.reject}}</button>
      </form>
      {{/pending}}
      </div>
    </article>{{/requests}}
    """
}
