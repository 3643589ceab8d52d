#include "sources/registry.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace windlass::sources {
namespace {

TEST_CASE("image repositories split into host and path, Docker Hub names expanded") {
  auto r = parseImageRepository("harbor.example.com/shop/web");
  REQUIRE(r);
  CHECK(r->host == "harbor.example.com");
  CHECK(r->repository == "shop/web");
  r = parseImageRepository("127.0.0.1:5000/web");
  REQUIRE(r);
  CHECK(*r == ImageRepository{"127.0.0.1:5000", "web"});
  r = parseImageRepository("localhost/a/b");
  REQUIRE(r);
  CHECK(*r == ImageRepository{"localhost", "a/b"});
  r = parseImageRepository("nginx");
  REQUIRE(r);
  CHECK(*r == ImageRepository{"registry-1.docker.io", "library/nginx"});
  r = parseImageRepository("bitnami/redis");
  REQUIRE(r);
  CHECK(*r == ImageRepository{"registry-1.docker.io", "bitnami/redis"});
  r = parseImageRepository("docker.io/x/y");
  REQUIRE(r);
  CHECK(*r == ImageRepository{"registry-1.docker.io", "x/y"});
}

TEST_CASE("image repositories with a tag, digest or bad component are refused") {
  auto r = parseImageRepository("ghcr.io/a/web:1.0");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "image \"ghcr.io/a/web:1.0\": a tag is not allowed here");
  r = parseImageRepository("ghcr.io/a/web@sha256:00");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() ==
        "image \"ghcr.io/a/web@sha256:00\": a digest is not allowed here (name the repository "
        "only)");
  r = parseImageRepository("ghcr.io/A/web");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() ==
        "image \"ghcr.io/A/web\": path component \"A\" is not valid (lowercase letters, digits "
        "and . _ - inside)");
  CHECK_FALSE(parseImageRepository("ghcr.io//web"));
  CHECK_FALSE(parseImageRepository("ghcr.io/"));
  CHECK_FALSE(parseImageRepository(""));
}

TEST_CASE("tag lists parse; null tags are none; wrong shapes are errors") {
  auto t = parseTagList(R"({"name":"web","tags":["1.0.0","latest"]})");
  REQUIRE(t);
  CHECK(*t == std::vector<std::string>{"1.0.0", "latest"});
  t = parseTagList(R"({"name":"web","tags":null})");
  REQUIRE(t);
  CHECK(t->empty());
  t = parseTagList(R"({"name":"web","tags":[1]})");
  REQUIRE_FALSE(t);
  CHECK(t.error().message() == "tag list: a tag is not a string");
  t = parseTagList(R"({"tags":"x"})");
  REQUIRE_FALSE(t);
  CHECK(t.error().message() == "tag list: \"tags\" is not an array");
  t = parseTagList("<html>");
  REQUIRE_FALSE(t);
  CHECK(t.error().message() == "tag list: not valid JSON");
  CHECK_FALSE(parseTagList("[]"));
}

TEST_CASE("the next link is found among several links and parameters") {
  CHECK(nextLinkFromHeader(R"(</v2/web/tags/list?last=b&n=2>; rel="next")") ==
        "/v2/web/tags/list?last=b&n=2");
  CHECK(nextLinkFromHeader(R"(<https://r/x?a=1>; rel="prev", <https://r/y?last=z>; rel=next)") ==
        "https://r/y?last=z");
  CHECK(nextLinkFromHeader(R"(</a>; title="a, b"; rel="next last")") == "/a");
  CHECK(nextLinkFromHeader(R"(</a>; rel="prev")") == std::nullopt);
  CHECK(nextLinkFromHeader("") == std::nullopt);
  CHECK(nextLinkFromHeader("garbage") == std::nullopt);
  CHECK(nextLinkFromHeader(R"(</a; rel="next")") == std::nullopt);
}

TEST_CASE("WWW-Authenticate challenges parse with quoted and plain values") {
  auto c = parseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:shop/web:pull")");
  REQUIRE(c);
  CHECK(c->scheme == "Bearer");
  CHECK(c->params["realm"] == "https://auth.example/token");
  CHECK(c->params["service"] == "registry.example");
  CHECK(c->params["scope"] == "repository:shop/web:pull");
  c = parseChallenge(R"(Basic realm="a \"quoted\" realm", Charset=UTF-8)");
  REQUIRE(c);
  CHECK(c->scheme == "Basic");
  CHECK(c->params["realm"] == "a \"quoted\" realm");
  CHECK(c->params["charset"] == "UTF-8");
  c = parseChallenge(R"(Bearer realm="unterminated)");
  REQUIRE_FALSE(c);
  CHECK(c.error().message() == "challenge: unterminated quoted value");
  CHECK_FALSE(parseChallenge(""));
}

TEST_CASE("token answers: token or access_token, expires_in defaults to 60") {
  auto t = parseTokenResponse(R"({"token":"abc","expires_in":300})");
  REQUIRE(t);
  CHECK(t->token == "abc");
  CHECK(t->expiresInSeconds == 300);
  t = parseTokenResponse(R"({"access_token":"xyz"})");
  REQUIRE(t);
  CHECK(t->token == "xyz");
  CHECK(t->expiresInSeconds == 60);
  t = parseTokenResponse(R"({"token":""})");
  REQUIRE_FALSE(t);
  CHECK(t.error().message() == "token response: no \"token\"");
}

TEST_CASE("Retry-After: seconds or an HTTP date") {
  CHECK(parseRetryAfter("5", std::chrono::seconds(0)) == 5);
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  CHECK(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", std::chrono::seconds(784111770)) == 7);
  CHECK(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", std::chrono::seconds(784111800)) == 0);
  CHECK(parseRetryAfter("soon", std::chrono::seconds(0)) == std::nullopt);
  CHECK(parseRetryAfter("", std::chrono::seconds(0)) == std::nullopt);
}

TEST_CASE("docker config: auth, username/password and identitytoken, keys as Docker writes them") {
  // "user:pa:ss" in base64.
  std::string cfg = R"({"auths":{
    "https://ghcr.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
    "harbor.example.com": {"username": "robot", "password": "secret"},
    "https://index.docker.io/v1/": {"identitytoken": "refresh"}}})";
  auto c = parseDockerConfig(cfg, "ghcr.io");
  REQUIRE(c);
  REQUIRE(c->has_value());
  CHECK((*c)->username == "user");
  CHECK((*c)->password == "pa:ss");
  c = parseDockerConfig(cfg, "harbor.example.com");
  REQUIRE(c);
  REQUIRE(c->has_value());
  CHECK((*c)->username == "robot");
  CHECK((*c)->password == "secret");
  c = parseDockerConfig(cfg, "registry-1.docker.io");
  REQUIRE(c);
  REQUIRE(c->has_value());
  CHECK((*c)->identityToken == "refresh");
  c = parseDockerConfig(cfg, "quay.io");
  REQUIRE(c);
  CHECK_FALSE(c->has_value());
}

TEST_CASE("docker config errors never quote a credential") {
  auto c = parseDockerConfig(R"({"auths":{"ghcr.io":{"auth":"c2VjcmV0"}}})", "ghcr.io");
  REQUIRE_FALSE(c);
  CHECK(c.error().message() ==
        "docker config: auths[\"ghcr.io\"].auth is not base64 of user:password");
  CHECK(c.error().message().find("secret") == std::string::npos);
  c = parseDockerConfig(R"({"auths":{"ghcr.io":{"auth":"!!"}}})", "ghcr.io");
  REQUIRE_FALSE(c);
  CHECK(c.error().message() == "docker config: auths[\"ghcr.io\"].auth is not base64");
  c = parseDockerConfig("{", "ghcr.io");
  REQUIRE_FALSE(c);
  CHECK(c.error().message() == "docker config: not valid JSON");
}

TEST_CASE("a client against a closed port says the registry is unavailable") {
  RegistryOptions o;
  o.insecure = true;
  o.connectTimeout = std::chrono::milliseconds(2000);
  RegistryClient client(o);
  // Port 1 on loopback: nothing listens there.
  auto tags = client.listTags({"127.0.0.1:1", "web"}, {});
  REQUIRE_FALSE(tags);
  CHECK(tags.error().code() == Code::kUnavailable);
  CHECK(tags.error().message().rfind("registry 127.0.0.1:1: ", 0) == 0);
  CHECK(client.stats().requests == 1);
}

}  // namespace
}  // namespace windlass::sources
