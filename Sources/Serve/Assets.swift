import Hummingbird

/// The files the pages load, held in the binary: nothing is read from disk by name, so no
/// path (`/assets/../…`, encoded or not) can reach a file outside them.
enum Assets {
    static let files: [String: (type: String, text: String)] = ["live.js": ("text/javascript; charset=utf-8", liveScript)]

    static func response(_ name: String) throws -> Response {
        guard let file = files[name] else { return Dashboard.notFound("no asset '\(name)'") }
        return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "max-age=60"],
                        body: .init(byteBuffer: ByteBuffer(string: file.text)))
    }

    /// Keeps a page live: on each change of the store's mark it fetches the page again and
    /// swaps in its <main> (no reload: scroll and open details stay); it says when the store
    /// cannot be read or the server is gone, and EventSource reconnects by itself.
    static let liveScript = """
        (() => {
          const status = document.getElementById('live');
          const say = (text, down) => { if (status) { status.textContent = text; status.className = down ? 'down' : ''; } };
          let busy = false, again = false;
          async function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            try {
              const response = await fetch(location.href, { cache: 'no-store' });
              const page = new DOMParser().parseFromString(await response.text(), 'text/html');
              const main = page.querySelector('main');
              if (main) {
                const open = [...document.querySelectorAll('details[open] > summary')].map(s => s.textContent);
                document.querySelector('main').replaceWith(document.adoptNode(main));
                document.querySelectorAll('details > summary').forEach(s => { if (open.includes(s.textContent)) s.parentElement.open = true; });
                document.body.dataset.mark = page.body.dataset.mark || '';
                document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
              }
              say(response.ok ? 'live' : 'store unavailable', !response.ok);
            } catch (e) {
              say('server unreachable', true);
            } finally {
              busy = false;
              if (again) { again = false; refresh(); }
            }
          }
          const events = new EventSource('/events');
          events.addEventListener('change', e => { say('live', false); if (e.data !== document.body.dataset.mark) refresh(); });
          events.addEventListener('unavailable', e => say('store unavailable: ' + e.data, true));
          events.onerror = () => say('server unreachable, retrying', true);
        })();
        """
}
