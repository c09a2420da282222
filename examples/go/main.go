// payfac merchant-side signing sample (Go standard library only).
//
// Usage:
//
//	go run . vectors VECTORS_JSON_PATH
//	go run . call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL
//
// The private key must be PKCS#8 PEM ("BEGIN PRIVATE KEY"). Convert a PKCS#1
// key ("BEGIN RSA PRIVATE KEY") with:
//
//	openssl pkcs8 -topk8 -nocrypt -in merchant.rsa.pem -out merchant.key.pem
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sortedParams implements docs/PROTOCOL.md §2: split on '&' (skip empty parts), split at
// the first '=', form-urlencoded-decode ('+' is a space), sort by key then
// value (Go string comparison is UTF-8 byte order), join as k=v&k=v.
func sortedParams(rawQuery string) (string, error) {
	var pairs [][2]string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", err
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", err
		}
		pairs = append(pairs, [2]string{dk, dv})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&"), nil
}

// signatureString: no separators; the body is appended as the exact bytes sent.
func signatureString(rawQuery, timestamp, nonce string, body []byte) ([]byte, error) {
	params, err := sortedParams(rawQuery)
	if err != nil {
		return nil, err
	}
	return append([]byte(params+timestamp+nonce), body...), nil
}

func loadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(path + ": expected a PKCS#8 PEM block (BEGIN PRIVATE KEY)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New(path + ": not an RSA key")
	}
	return rsaKey, nil
}

func loadPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(path + ": expected an SPKI PEM block (BEGIN PUBLIC KEY)")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New(path + ": not an RSA key")
	}
	return rsaKey, nil
}

// sign: RSASSA-PKCS1-v1_5 with SHA-256, standard (padded) base64.
func sign(key *rsa.PrivateKey, data []byte) (string, error) {
	digest := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	return base64.StdEncoding.EncodeToString(sig), err
}

func vectors(path string) (int, error) {
	var doc struct {
		PrivateKey, PublicKey string
		Cases                 []struct{ Name, RawQuery, Timestamp, Nonce, Body, SignatureString, Signature string }
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 2, err
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return 2, err
	}
	priv, err := loadPrivateKey(filepath.Join(filepath.Dir(path), doc.PrivateKey))
	if err != nil {
		return 2, err
	}
	pub, err := loadPublicKey(filepath.Join(filepath.Dir(path), doc.PublicKey))
	if err != nil {
		return 2, err
	}
	failed := 0
	for _, c := range doc.Cases {
		why := ""
		s, err := signatureString(c.RawQuery, c.Timestamp, c.Nonce, []byte(c.Body))
		if err != nil {
			why = "bad query: " + err.Error()
		} else if string(s) != c.SignatureString {
			why = fmt.Sprintf("signature string %q != %q", s, c.SignatureString)
		} else if sig, err := sign(priv, s); err != nil {
			why = "signing failed: " + err.Error()
		} else if sig != c.Signature {
			why = "signature " + sig + " != expected"
		} else {
			raw, _ := base64.StdEncoding.DecodeString(sig)
			digest := sha256.Sum256(s)
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], raw); err != nil {
				why = "public key does not verify: " + err.Error()
			}
		}
		if why != "" {
			failed++
			fmt.Printf("FAIL %s: %s\n", c.Name, why)
		} else {
			fmt.Printf("ok %s\n", c.Name)
		}
	}
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

// nonce: 24 random characters of [A-Za-z0-9] from crypto/rand.
func nonce() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 24)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

func call(baseURL, merchantID, keyPath, merchantUserNo, email string) (int, error) {
	key, err := loadPrivateKey(keyPath)
	if err != nil {
		return 2, err
	}
	// Serialize the body ONCE; sign and send these very bytes.
	body, err := json.Marshal(struct {
		MerchantUserNo string `json:"merchantUserNo"`
		Email          string `json:"email"`
	}{merchantUserNo, email})
	if err != nil {
		return 2, err
	}
	timestamp := strconv.FormatInt(time.Now().Unix(), 10) // seconds, not milliseconds
	n, err := nonce()
	if err != nil {
		return 2, err
	}
	s, _ := signatureString("", timestamp, n, body)
	signature, err := sign(key, s)
	if err != nil {
		return 2, err
	}
	endpoint := strings.TrimRight(baseURL, "/") + "/pay-fac/" + merchantID + "/v1/user"
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 2, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("timestamp", timestamp)
	req.Header.Set("nonce", n)
	req.Header.Set("signature", signature)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 2, err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body) // errors (4xx/5xx) carry the JSON envelope too
	if err != nil {
		return 2, err
	}
	fmt.Println(string(text))
	var envelope struct{ Code string }
	if json.Unmarshal(text, &envelope) != nil || envelope.Code != "0000" {
		return 1, nil
	}
	return 0, nil
}

func main() {
	var code int
	var err error
	switch args := os.Args[1:]; {
	case len(args) == 2 && args[0] == "vectors":
		code, err = vectors(args[1])
	case len(args) == 6 && args[0] == "call":
		code, err = call(args[1], args[2], args[3], args[4], args[5])
	default:
		fmt.Fprintln(os.Stderr, "usage: main vectors VECTORS_JSON_PATH\n"+
			"       main call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(code)
}
