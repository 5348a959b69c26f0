// Throwaway self-signed certificates made in memory: the lab's TLS server identity, and the untrusted client
// certificate `dicomguard tls` presents to tell "mutual TLS enforced" from "any client certificate accepted".
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace dg::tls {

enum class KeyType { rsa2048, ec_p256 };

// Makes a key and a self-signed certificate (SHA-256, valid from a minute ago for `days`), with the given CN,
// and installs both in the context. Throws std::runtime_error when OpenSSL fails.
void use_self_signed(SSL_CTX* ctx, const std::string& cn, KeyType type, int days = 2);

}  // namespace dg::tls
