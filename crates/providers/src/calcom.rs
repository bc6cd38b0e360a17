//! A client for the Cal.com API v2, for agents whose backend is still Cal.com.
