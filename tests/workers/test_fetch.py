"""The recording downloader: SSRF guard decisions (made through an injected resolver and
dialler: nothing is ever dialled outside loopback), limits, redirects and error codes."""
import ipaddress
import socket

import pytest

from tests.support.http_server import RecordingServer
from workers.addresses import IPV4_SPECIAL, IPV6_SPECIAL, AddressPolicy, is_public
from workers.failure import StageFailure
from workers.fetch import Downloader, FetchLimits

# as the settings build them: listed networks without named ports allow any port (local servers)
LOOPBACK = AddressPolicy([ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")], ports=None)
PUBLIC = AddressPolicy(None)


class RecordingDialer:
    """Records every (ip, port) the downloader asks for; connects only to a loopback server
    (standing in for whatever address was checked), or refuses."""

    def __init__(self, loopback_port: int | None = None):
        self.dialled: list[tuple[str, int]] = []
        self.loopback_port = loopback_port

    def __call__(self, address, timeout):
        self.dialled.append(address)
        if self.loopback_port is None:
            raise ConnectionRefusedError("test dialer: not connecting")
        return socket.create_connection(("127.0.0.1", self.loopback_port), timeout=timeout)


def numeric_only_resolver(host, port):
    """getaddrinfo restricted to numeric forms (no DNS query can leave the machine)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST,
                                                      type=socket.SOCK_STREAM)]


def fake_dns(table):
    def resolve(host, port):
        if host not in table:
            raise socket.gaierror("no such host")
        return table[host]
    return resolve


@pytest.fixture()
def server():
    with RecordingServer() as s:
        yield s


def fetch(url, tmp_path, policy=LOOPBACK, **kwargs):
    limits = kwargs.pop("limits", FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=10))
    downloader = Downloader(policy, limits, **kwargs)
    return downloader.download(url, str(tmp_path / "out"))


def test_download_streams_to_file(server, tmp_path):
    body = b"RIFF" + b"\x01" * 300_000
    result = fetch(server.add("a.wav", body), tmp_path)
    assert result.bytes == len(body) and (tmp_path / "out").read_bytes() == body


def test_chunked_body_without_length(server, tmp_path):
    server.add("c.wav", b"x" * 100_000)
    assert fetch(server.url("/chunked/c.wav"), tmp_path).bytes == 100_000


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1", "::1", "::", "fe80::1",
    "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1",
    "2002:a00:1::1", "2001:db8::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
])
def test_public_policy_refuses_non_global_addresses(address):
    assert not PUBLIC.allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    # the review's finding 5: the standard library calls these global
    "fec0::1", "3fff::1", "3fff:fff::1", "192.0.0.8", "192.0.0.9",
    # Teredo is refused as a whole, even with a public client and server inside
    "2001:0:808:808:0:0:f7f7:f7f7", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    # 6to4 as a whole, even around a public IPv4; local-use NAT64; IPv4-compatible; not 2000::/3
    "2002:808:808::1", "64:ff9b:1::808:808", "::808:808", "4000::1", "5f00::1", "100::1",
    # anycast services the registry calls globally reachable: no recording lives there
    "192.0.0.10", "192.31.196.1", "192.52.193.1", "192.175.48.1", "2001:1::1", "2001:3::1",
    "2001:4:112::1", "2001:20::1", "2620:4f:8000::1",
    "192.88.99.1", "198.51.100.7", "203.0.113.7", "::ffff:192.0.0.9", "64:ff9b::a9fe:a9fe",
])
def test_public_policy_refuses_every_special_purpose_block(address):
    assert not PUBLIC.allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("block", [b for b, name, _ in IPV4_SPECIAL + IPV6_SPECIAL if "judged by" not in name])
def test_every_block_of_the_table_is_refused_first_to_last(block):
    network = ipaddress.ip_network(block)
    assert not PUBLIC.allows(network[0]) and not PUBLIC.allows(network[-1])


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808",
                                     "::ffff:8.8.8.8", "1.0.0.1", "2a00:1450:4001::1"])
def test_public_policy_allows_global_addresses(address):
    assert is_public(ipaddress.ip_address(address)) and PUBLIC.allows(ipaddress.ip_address(address))


def test_refusals_say_what_the_address_is():
    assert PUBLIC.refusal(ipaddress.ip_address("192.0.0.9")) == "Port Control Protocol anycast"
    assert PUBLIC.refusal(ipaddress.ip_address("2001:0:808:808::1")) == "Teredo"
    assert PUBLIC.refusal(ipaddress.ip_address("::ffff:10.1.1.1")) == "carries 10.1.1.1, private use"


def test_loopback_confinement_refuses_public_and_private():
    for address in ("8.8.8.8", "10.0.0.1", "::ffff:8.8.8.8", "2606:4700:4700::1111"):
        assert not LOOPBACK.allows(ipaddress.ip_address(address))
    for address in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
        assert LOOPBACK.allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/a.wav", "http://2130706433/a.wav", "http://0x7f.0.0.1/a.wav", "http://0177.0.0.1/a.wav",
    "http://127.1/a.wav", "http://[::1]/a.wav", "http://[::ffff:127.0.0.1]/a.wav", "http://0/a.wav",
    "http://10.0.0.1:8080/a.wav", "http://[fe80::1]/a.wav", "https://169.254.169.254/latest/meta-data",
])
def test_address_tricks_are_refused_before_any_dial(url, tmp_path):
    dialer = RecordingDialer()
    with pytest.raises(StageFailure) as err:
        fetch(url, tmp_path, policy=PUBLIC, resolver=numeric_only_resolver, dialer=dialer)
    assert err.value.code == "recording_forbidden_address" and not err.value.transient
    assert dialer.dialled == []


@pytest.mark.parametrize("answers", [["10.1.2.3"], ["127.0.0.1"], ["93.184.216.34", "192.168.0.10"],
                                     ["::1"], ["fd00::5"]])
def test_names_resolving_to_private_addresses_are_refused(answers, tmp_path):
    dialer = RecordingDialer()
    with pytest.raises(StageFailure) as err:
        fetch("https://recordings.example.com/a.wav", tmp_path, policy=PUBLIC,
              resolver=fake_dns({"recordings.example.com": answers}), dialer=dialer)
    assert err.value.code == "recording_forbidden_address"
    assert dialer.dialled == []


def test_connects_to_the_checked_address_and_keeps_the_host_header(server, tmp_path):
    # the name resolves to a public address; the dialler records it and stands in with the
    # local server, so we see exactly what would have been dialled and what was sent
    server.add("p.wav", b"RIFFdata")
    dialer = RecordingDialer(loopback_port=server.port)
    result = fetch("http://calls.example.com/files/p.wav", tmp_path, policy=PUBLIC,
                   resolver=fake_dns({"calls.example.com": ["93.184.216.34"]}), dialer=dialer)
    assert result.bytes == 8
    assert dialer.dialled == [("93.184.216.34", 80)]
    assert server.requests[-1] == ("/files/p.wav", "calls.example.com")


def test_redirect_to_a_private_address_is_refused(server, tmp_path):
    dialer = RecordingDialer(loopback_port=server.port)
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/to?url=http://10.9.8.7/secret"), tmp_path, policy=LOOPBACK,
              resolver=numeric_only_resolver, dialer=dialer)
    assert err.value.code == "recording_forbidden_address"
    assert dialer.dialled == [("127.0.0.1", server.port)]  # the first hop only


def test_redirect_to_a_name_resolving_privately_is_refused(server, tmp_path):
    dialer = RecordingDialer(loopback_port=server.port)
    resolver = fake_dns({"evil.example": ["192.168.0.1"]})
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/to?url=http://evil.example/x.wav"), tmp_path, resolver=resolver, dialer=dialer)
    assert err.value.code == "recording_forbidden_address"
    assert len(dialer.dialled) == 1


def test_three_redirects_followed_four_refused(server, tmp_path):
    server.add("r.wav", b"RIFFxx")
    assert fetch(server.url("/redirect/3/r.wav"), tmp_path).bytes == 6
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/redirect/4/r.wav"), tmp_path)
    assert err.value.code == "recording_unreachable" and not err.value.transient
    with pytest.raises(StageFailure):
        fetch(server.url("/loop"), tmp_path)


@pytest.mark.parametrize("status,permanent", [(404, True), (403, True), (410, True), (500, False),
                                              (503, False), (429, False)])
def test_http_errors_are_classified(server, tmp_path, status, permanent):
    with pytest.raises(StageFailure) as err:
        fetch(server.url(f"/status/{status}"), tmp_path)
    assert err.value.code == "recording_unreachable" and err.value.transient is not permanent


def test_too_large_declared_and_streamed(server, tmp_path):
    server.add("big.wav", b"x" * 50_000)
    limits = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=10, max_bytes=10_000)
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/files/big.wav"), tmp_path, limits=limits)
    assert err.value.code == "recording_too_large" and not err.value.transient
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/chunked/big.wav"), tmp_path, limits=limits)
    assert err.value.code == "recording_too_large"


def test_stalled_server_times_out_as_transient(server, tmp_path):
    limits = FetchLimits(connect_timeout=1, read_timeout=0.5, total_timeout=5)
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/slow"), tmp_path, limits=limits)
    assert err.value.code == "recording_unreachable" and err.value.transient


def test_empty_body_is_undecodable(server, tmp_path):
    with pytest.raises(StageFailure) as err:
        fetch(server.add("empty.wav", b""), tmp_path)
    assert err.value.code == "undecodable_audio"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a.wav", "http://user:pw@127.0.0.1/a.wav",
                                 "http://127.0.0.1\\@10.0.0.1/a.wav", "http:///a.wav", "http://127.0.0.1:99999/"])
def test_odd_urls_are_refused(url, tmp_path):
    dialer = RecordingDialer()
    with pytest.raises(StageFailure) as err:
        fetch(url, tmp_path, dialer=dialer)
    assert not err.value.transient and dialer.dialled == []


@pytest.mark.parametrize("url", [
    "http://8.8.8.8℀/a.wav",          # changes under NFKC normalisation: urlsplit raises ValueError
    "http://[::1/a.wav", "http://[::1]:80x/a.wav", "http://exa mple.com/a.wav", "http://[fe80::1%25eth0]/a.wav",
    "http://bad_label-.example/a.wav", "http://" + "a" * 64 + ".example/a.wav", "javascript:alert(1)", "",
])
def test_unparseable_urls_are_a_clean_unreachable(url, tmp_path):
    dialer = RecordingDialer()
    with pytest.raises(StageFailure) as err:
        fetch(url, tmp_path, policy=PUBLIC, resolver=fake_dns({}), dialer=dialer)
    assert (err.value.code, err.value.transient, dialer.dialled) == ("recording_unreachable", False, [])


@pytest.mark.parametrize("location", ["http://[::1/", "http://8.8.8.8℀/a.wav", "http://[::1]:x/", "gopher://127.0.0.1/"])
def test_an_unparseable_redirect_is_a_clean_unreachable(server, tmp_path, location):
    dialer = RecordingDialer(loopback_port=server.port)
    with pytest.raises(StageFailure) as err:
        fetch(server.url(f"/to?url={location}"), tmp_path, dialer=dialer)
    assert (err.value.code, err.value.transient) == ("recording_unreachable", False)
    assert dialer.dialled == [("127.0.0.1", server.port)]  # the first hop only


@pytest.mark.parametrize("url", ["http://93.184.216.34:8080/a.wav", "https://calls.example.com:22/a.wav",
                                 "http://calls.example.com:6379/", "https://calls.example.com:8443/a.wav"])
def test_public_policy_dials_80_and_443_only(url, tmp_path):
    dialer = RecordingDialer()
    with pytest.raises(StageFailure) as err:
        fetch(url, tmp_path, policy=PUBLIC, resolver=fake_dns({"calls.example.com": ["93.184.216.34"]}),
              dialer=dialer)
    assert err.value.code == "recording_forbidden_address" and "Port" in err.value.message
    assert dialer.dialled == []


def test_a_port_named_in_the_settings_is_dialled(server, tmp_path):
    server.add("p.wav", b"RIFFdata")
    dialer = RecordingDialer(loopback_port=server.port)
    policy = AddressPolicy(None, ports={80, 443, 8443})
    fetch("http://calls.example.com:8443/files/p.wav", tmp_path, policy=policy,
          resolver=fake_dns({"calls.example.com": ["93.184.216.34"]}), dialer=dialer)
    assert dialer.dialled == [("93.184.216.34", 8443)]


def test_a_redirect_to_a_port_not_allowed_is_refused(server, tmp_path):
    dialer = RecordingDialer(loopback_port=server.port)
    policy = AddressPolicy([ipaddress.ip_network("127.0.0.0/8")], ports={80, 443, server.port})
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/to?url=http://127.0.0.1:6379/"), tmp_path, policy=policy, dialer=dialer)
    assert err.value.code == "recording_forbidden_address"
    assert dialer.dialled == [("127.0.0.1", server.port)]


def test_proxy_environment_is_ignored(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("http_proxy", "http://10.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    dialer = RecordingDialer(loopback_port=server.port)
    server.add("x.wav", b"RIFF")
    fetch(server.url("/files/x.wav"), tmp_path, dialer=dialer)
    assert dialer.dialled == [("127.0.0.1", server.port)]


def test_dripping_server_hits_the_total_deadline(server, tmp_path):
    limits = FetchLimits(connect_timeout=1, read_timeout=2, total_timeout=1.5)
    started = __import__("time").monotonic()
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/drip"), tmp_path, limits=limits)
    assert err.value.code == "recording_unreachable" and err.value.transient
    assert __import__("time").monotonic() - started < 5


def test_server_lying_about_content_length_is_transient(server, tmp_path):
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/liar"), tmp_path)
    assert err.value.code == "recording_unreachable" and err.value.transient


def test_endless_body_stops_at_the_size_limit_with_bounded_memory(server, tmp_path):
    import resource

    limits = FetchLimits(connect_timeout=2, read_timeout=5, total_timeout=60, max_bytes=64 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(StageFailure) as err:
        fetch(server.url("/endless"), tmp_path, limits=limits)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert err.value.code == "recording_too_large" and not err.value.transient
    assert grown_mb < 32, f"streaming 64 MiB grew the process by {grown_mb:.0f} MB"


def test_webhook_posts_go_through_the_same_address_and_port_rules(server):
    """Outbound webhooks use the downloader's post(): a port outside the allowed ones and a
    private address are refused before anything is dialled; an allowed one is posted to."""
    dialer = RecordingDialer(loopback_port=server.port)
    limits = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=4, max_redirects=0)
    client = Downloader(PUBLIC, limits, resolver=fake_dns({"hooks.example.com": ["93.184.216.34"],
                                                           "inside.example.com": ["10.1.2.3"]}), dialer=dialer)
    for url in ("http://hooks.example.com:6379/hook", "https://inside.example.com/hook", "http://192.0.0.9/hook"):
        with pytest.raises(StageFailure) as err:
            client.post(url, b"{}", {"content-type": "application/json"})
        assert err.value.code == "recording_forbidden_address", url
    assert dialer.dialled == []
    # the loopback stand-in for 93.184.216.34 has no POST route: its 501 proves the post arrived
    assert client.post("http://hooks.example.com/hook", b"{}", {"content-type": "application/json"}) == 501
    assert dialer.dialled == [("93.184.216.34", 80)]
