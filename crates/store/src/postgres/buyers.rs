//! Reading buyers out of result rows (see `buyer_columns!`).

use payfac_domain::Buyer;
use tokio_postgres::Row;

pub(super) fn buyer_from_row(row: &Row) -> Result<Buyer, tokio_postgres::Error> {
    Ok(Buyer {
        user_id: row.try_get(0)?,
        merchant: row.try_get(1)?,
        merchant_user_no: row.try_get(2)?,
        email: row.try_get(3)?,
        first_name: row.try_get(4)?,
        last_name: row.try_get(5)?,
    })
}
