"""Salesman campaigns (issue 15, seed 002): promoters earn a commission in basis points on the
sales they bring, traced by their coupon code or referral code; the advertiser's shop reports
sales and refunds through a signed webhook."""
